/* Policy → libseccomp. See seccomp.h. */
#include "seccomp.h"

#include <errno.h>
#include <string.h>

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

int seccomp_compile(const struct policy *p, enum seccomp_mode mode, scmp_filter_ctx *out)
{
	scmp_filter_ctx ctx;
	int ret = 0;

	ctx = seccomp_init(mode == SECCOMP_MODE_LOG ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < p->nrules && ret == 0; i++)
		ret = add_policy_rule(ctx, &p->rules[i]);
	if (ret < 0) {
		seccomp_release(ctx);
		return ret;
	}
	*out = ctx;
	return 0;
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
