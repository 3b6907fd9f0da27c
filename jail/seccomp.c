/* Policy → libseccomp. See seccomp.h. */
#include "seccomp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* A rule being built for one alternative of a policy rule. */
struct emit {
	scmp_filter_ctx ctx;
	const struct policy_rule *rule;
	const struct policy_and *alt;
	struct scmp_arg_cmp cmps[POLICY_MAX_ARGS * 2];
	unsigned int ncmps;
};

static const enum scmp_compare cmp_ops[] = {
    [POLICY_OP_EQ] = SCMP_CMP_EQ, [POLICY_OP_NE] = SCMP_CMP_NE, [POLICY_OP_LT] = SCMP_CMP_LT,
    [POLICY_OP_LE] = SCMP_CMP_LE, [POLICY_OP_GT] = SCMP_CMP_GT, [POLICY_OP_GE] = SCMP_CMP_GE,
};

static int emit_rule(struct emit *e)
{
	int ret = seccomp_rule_add_array(e->ctx, SCMP_ACT_ALLOW, e->rule->nr, e->ncmps, e->cmps);

	if (ret < 0)
		log_err("seccomp: %s:%d: libseccomp refused the rule for %s: %s", e->rule->file,
			e->rule->line, e->rule->name, strerror(-ret));
	return ret;
}

/*
 * Adds the comparisons of conds i.. and then the rule. `arg & MASK` (some bit of MASK set) has
 * no libseccomp comparison when MASK has several bits, so it becomes one rule per bit.
 */
static int emit_conds(struct emit *e, size_t i)
{
	const struct policy_cond *c;
	int ret = 0;

	if (i == e->alt->nconds)
		return emit_rule(e);
	if (e->ncmps == sizeof(e->cmps) / sizeof(e->cmps[0]))
		return -E2BIG;
	c = &e->alt->conds[i];
	switch (c->op) {
	case POLICY_OP_BITS_SET:
		for (unsigned int bit = 0; bit < 64 && ret == 0; bit++) {
			uint64_t m = (uint64_t)1 << bit;

			if (!(c->value & m))
				continue;
			e->cmps[e->ncmps++] = SCMP_CMP64(c->arg, SCMP_CMP_MASKED_EQ, m, m);
			ret = emit_conds(e, i + 1);
			e->ncmps--;
		}
		return ret;
	case POLICY_OP_IN:
		e->cmps[e->ncmps++] = SCMP_CMP64(c->arg, SCMP_CMP_MASKED_EQ, ~c->value, 0);
		break;
	default:
		e->cmps[e->ncmps++] = SCMP_CMP64(c->arg, cmp_ops[c->op], c->value);
		break;
	}
	ret = emit_conds(e, i + 1);
	e->ncmps--;
	return ret;
}

static int add_policy_rule(scmp_filter_ctx ctx, const struct policy_rule *r)
{
	struct emit e = {.ctx = ctx, .rule = r};
	int ret = 0;

	if (r->action == POLICY_ERRNO)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO((uint32_t)r->errno_value), r->nr, 0);
	else if (r->nalts == 0)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 0);
	if (ret < 0)
		log_err("seccomp: %s:%d: libseccomp refused the rule for %s: %s", r->file, r->line,
			r->name, strerror(-ret));
	for (size_t i = 0; i < r->nalts && ret == 0 && r->action == POLICY_ALLOW; i++) {
		e.alt = &r->alts[i];
		ret = emit_conds(&e, 0);
	}
	return ret;
}

static uint32_t default_action(enum seccomp_mode mode)
{
	switch (mode) {
	case SECCOMP_MODE_LOG:
		return SCMP_ACT_LOG;
	case SECCOMP_MODE_TRAP:
		return SCMP_ACT_TRAP;
	case SECCOMP_MODE_LEARN:
		return SCMP_ACT_NOTIFY;
	default:
		return SCMP_ACT_KILL_PROCESS;
	}
}

static int compile_many(const struct policy *const *ps, size_t n, enum seccomp_mode mode,
			scmp_filter_ctx *out)
{
	scmp_filter_ctx ctx;
	int ret = 0;

	ctx = seccomp_init(default_action(mode));
	if (!ctx)
		return -ENOMEM;
	if (mode == SECCOMP_MODE_LEARN) {
		/* Learning watches every syscall; only the hand-over of the listener cannot wait
		 * for the listener. */
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendmsg), 1,
				       SCMP_A0(SCMP_CMP_EQ, JAIL_HANDOVER_FD));
		n = 0;
	}
	for (size_t k = 0; k < n && ret == 0; k++)
		for (size_t i = 0; i < ps[k]->nrules && ret == 0; i++)
			ret = add_policy_rule(ctx, &ps[k]->rules[i]);
	if (ret < 0) {
		seccomp_release(ctx);
		return ret;
	}
	*out = ctx;
	return 0;
}

int seccomp_compile(const struct policy *p, enum seccomp_mode mode, scmp_filter_ctx *out)
{
	return compile_many(&p, 1, mode, out);
}

int seccomp_build(const struct policy *const *ps, size_t n, enum seccomp_mode mode,
		  struct jail_filter *out)
{
	scmp_filter_ctx ctx;
	struct stat st;
	int fd, ret;

	memset(out, 0, sizeof(*out));
	ret = compile_many(ps, n, mode, &ctx);
	if (ret < 0)
		return ret;
	fd = memfd_create("vmm-bpf", MFD_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto out_release;
	}
	ret = seccomp_export_bpf(ctx, fd);
	if (ret == 0 && fstat(fd, &st) < 0)
		ret = -errno;
	if (ret == 0 && (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) ||
			 st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS))
		ret = -E2BIG;
	if (ret == 0) {
		out->insns = malloc((size_t)st.st_size);
		if (!out->insns)
			ret = -ENOMEM;
	}
	if (ret == 0 && pread(fd, out->insns, (size_t)st.st_size, 0) != st.st_size)
		ret = -EIO;
	if (ret == 0)
		out->len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
	else
		jail_filter_free(out);
	close(fd);
	if (ret < 0)
		log_err("seccomp: exporting the filter failed: %s", strerror(-ret));
out_release:
	seccomp_release(ctx);
	return ret;
}

int seccomp_load_policy(const struct policy *p, enum seccomp_mode mode)
{
	scmp_filter_ctx ctx;
	int ret = seccomp_compile(p, mode, &ctx);

	if (ret < 0)
		return ret;
	ret = seccomp_load(ctx);
	if (ret < 0)
		log_err("seccomp: loading the filter failed: %s", strerror(-ret));
	/* Frees only heap memory: no syscall the new filter would have to allow. */
	seccomp_release(ctx);
	return ret;
}

int seccomp_build_named(const char *dir, const char *name, enum seccomp_mode mode,
			struct jail_filter *out, char *path, size_t pathlen)
{
	struct policy p[2] = {0};
	const struct policy *ps[2] = {&p[0], &p[1]};
	char err[1024], extra[4096];
	size_t n = 0;
	int ret;

	snprintf(path, pathlen, "%s/%s.policy", dir, name);
	ret = policy_load(path, &p[n], err, sizeof(err));
	if (ret == 0)
		n++;
	snprintf(extra, sizeof(extra), "%s/sanitizer.policy", dir);
	if (ret == 0 && SECCOMP_SANITIZED) {
		ret = policy_load(extra, &p[n], err, sizeof(err));
		if (ret == 0)
			n++;
	}
	if (ret < 0)
		log_err("%s", err);
	else
		ret = seccomp_build(ps, n, mode, out);
	for (size_t i = 0; i < n; i++)
		policy_free(&p[i]);
	return ret;
}

int seccomp_build_memfd(const char *dir, const char *name, enum seccomp_mode mode, char *path,
			size_t pathlen)
{
	struct jail_filter f;
	int ret = seccomp_build_named(dir, name, mode, &f, path, pathlen);

	if (ret < 0)
		return ret;
	ret = jail_filter_memfd(&f);
	jail_filter_free(&f);
	if (ret < 0)
		log_err("seccomp filter of %s: %s", name, strerror(-ret));
	return ret;
}
