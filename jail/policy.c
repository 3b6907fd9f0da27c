/* The seccomp policy parser: one line at a time, each line lexed into tokens. See policy.h. */
#include "policy.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/futex.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "util.h"

struct constant {
	const char *name;
	uint64_t value;
};

/* clang-format off */
#define K(x) { #x, (uint64_t)(x) }
static const struct constant constants[] = {
	K(O_RDONLY), K(O_WRONLY), K(O_RDWR), K(O_CREAT), K(O_EXCL), K(O_NOCTTY), K(O_TRUNC),
	K(O_APPEND), K(O_NONBLOCK), K(O_DSYNC), K(O_SYNC), K(O_DIRECTORY), K(O_NOFOLLOW),
	K(O_CLOEXEC), K(O_PATH), K(O_TMPFILE), K(O_LARGEFILE), K(O_NOATIME), K(O_DIRECT),
	K(O_ASYNC),
	K(PROT_NONE), K(PROT_READ), K(PROT_WRITE), K(PROT_EXEC),
	K(MAP_SHARED), K(MAP_PRIVATE), K(MAP_FIXED), K(MAP_ANONYMOUS), K(MAP_ANON),
	K(MAP_NORESERVE), K(MAP_POPULATE), K(MAP_STACK), K(MAP_GROWSDOWN), K(MAP_HUGETLB),
	K(MAP_LOCKED), K(MAP_NONBLOCK), K(MAP_FIXED_NOREPLACE), K(MAP_SHARED_VALIDATE),
	K(F_DUPFD), K(F_DUPFD_CLOEXEC), K(F_GETFD), K(F_SETFD), K(F_GETFL), K(F_SETFL),
	K(F_GETLK), K(F_SETLK), K(F_SETLKW), K(F_ADD_SEALS), K(F_GET_SEALS), K(F_OFD_GETLK),
	K(F_OFD_SETLK), K(F_OFD_SETLKW), K(FD_CLOEXEC),
	K(F_SEAL_SEAL), K(F_SEAL_SHRINK), K(F_SEAL_GROW), K(F_SEAL_WRITE),
	K(MADV_NORMAL), K(MADV_RANDOM), K(MADV_SEQUENTIAL), K(MADV_WILLNEED), K(MADV_DONTNEED),
	K(MADV_REMOVE), K(MADV_FREE), K(MADV_DONTFORK), K(MADV_DOFORK), K(MADV_MERGEABLE),
	K(MADV_UNMERGEABLE), K(MADV_HUGEPAGE), K(MADV_NOHUGEPAGE), K(MADV_DONTDUMP),
	K(MADV_DODUMP),
	K(MFD_CLOEXEC), K(MFD_ALLOW_SEALING),
	K(EPERM), K(ENOENT), K(ESRCH), K(EINTR), K(EIO), K(ENXIO), K(E2BIG), K(ENOEXEC),
	K(EBADF), K(ECHILD), K(EAGAIN), K(EWOULDBLOCK), K(ENOMEM), K(EACCES), K(EFAULT),
	K(EBUSY), K(EEXIST), K(EXDEV), K(ENODEV), K(ENOTDIR), K(EISDIR), K(EINVAL), K(ENFILE),
	K(EMFILE), K(ENOTTY), K(EFBIG), K(ENOSPC), K(ESPIPE), K(EROFS), K(EPIPE), K(ERANGE),
	K(ENOSYS), K(EOPNOTSUPP), K(ENOTSUP), K(ENOTSOCK), K(EAFNOSUPPORT), K(ETIMEDOUT),
	K(TCGETS), K(TCSETS), K(TCSETSW), K(TIOCGWINSZ), K(TIOCSWINSZ), K(FIONBIO), K(FIONREAD),
	K(FIOCLEX), K(FIONCLEX),
	K(BLKGETSIZE64), K(BLKSSZGET), K(BLKDISCARD), K(BLKFLSBUF), K(BLKZEROOUT),
	K(TUNSETIFF), K(TUNGETIFF), K(TUNSETOFFLOAD), K(TUNSETVNETHDRSZ), K(TUNGETVNETHDRSZ),
	K(PR_SET_NAME), K(PR_GET_NAME), K(PR_SET_NO_NEW_PRIVS), K(PR_GET_NO_NEW_PRIVS),
	K(PR_SET_PDEATHSIG), K(PR_SET_SECCOMP), K(PR_SET_DUMPABLE), K(PR_GET_DUMPABLE),
	K(PR_CAPBSET_DROP), K(PR_SET_KEEPCAPS),
	K(EFD_CLOEXEC), K(EFD_NONBLOCK), K(EFD_SEMAPHORE),
	K(AF_UNIX), K(AF_INET), K(AF_INET6), K(AF_NETLINK),
	K(SOCK_STREAM), K(SOCK_DGRAM), K(SOCK_SEQPACKET), K(SOCK_RAW), K(SOCK_CLOEXEC),
	K(SOCK_NONBLOCK),
	K(MSG_DONTWAIT), K(MSG_NOSIGNAL), K(MSG_CMSG_CLOEXEC), K(MSG_PEEK), K(MSG_TRUNC),
	K(MSG_WAITALL),
	K(EPOLL_CTL_ADD), K(EPOLL_CTL_DEL), K(EPOLL_CTL_MOD), K(EPOLL_CLOEXEC),
	K(FUTEX_WAIT), K(FUTEX_WAKE), K(FUTEX_REQUEUE), K(FUTEX_CMP_REQUEUE), K(FUTEX_WAIT_BITSET),
	K(FUTEX_WAKE_BITSET), K(FUTEX_PRIVATE_FLAG), K(FUTEX_CLOCK_REALTIME),
	K(FUTEX_WAIT_PRIVATE), K(FUTEX_WAKE_PRIVATE), K(FUTEX_WAIT_BITSET_PRIVATE),
	K(FUTEX_WAKE_BITSET_PRIVATE),
	K(CLOCK_REALTIME), K(CLOCK_MONOTONIC), K(CLOCK_BOOTTIME), K(CLOCK_MONOTONIC_RAW),
	K(CLOCK_PROCESS_CPUTIME_ID), K(CLOCK_THREAD_CPUTIME_ID),
	K(SIG_BLOCK), K(SIG_UNBLOCK), K(SIG_SETMASK),
	K(FALLOC_FL_KEEP_SIZE), K(FALLOC_FL_PUNCH_HOLE), K(FALLOC_FL_ZERO_RANGE),
	K(GRND_NONBLOCK), K(GRND_RANDOM),
	K(AT_EMPTY_PATH),
	K(SIGKILL), K(SIGUSR1), K(SIGSYS),
	/* glibc's SIGSETXID, which pthread_create() installs and unblocks; strace's name for it */
	{ "SIGRT_1", (uint64_t)(__SIGRTMIN + 1) },
	K(WNOHANG),
	K(CLONE_VM), K(CLONE_FS), K(CLONE_FILES), K(CLONE_SIGHAND), K(CLONE_THREAD),
	K(CLONE_SYSVSEM), K(CLONE_SETTLS), K(CLONE_PARENT_SETTID), K(CLONE_CHILD_CLEARTID),
	K(CLONE_CHILD_SETTID), K(CLONE_UNTRACED),
	K(SECCOMP_SET_MODE_STRICT), K(SECCOMP_SET_MODE_FILTER),
	K(KVM_RUN), K(KVM_IRQ_LINE), K(KVM_IRQ_LINE_STATUS), K(KVM_IRQFD), K(KVM_IOEVENTFD), K(KVM_SIGNAL_MSI),
	K(KVM_SET_GSI_ROUTING), K(KVM_SET_USER_MEMORY_REGION), K(KVM_GET_REGS), K(KVM_GET_SREGS),
	K(KVM_TRANSLATE), K(KVM_GET_CLOCK), K(KVM_SET_CLOCK), K(SOL_SOCKET), K(SO_PEERCRED),
	K(SEEK_SET), K(SEEK_CUR), K(SEEK_END),
	K(PR_SET_PTRACER), K(__WALL),
	K(SIGABRT), K(SIGILL), K(SIGFPE), K(SIGSEGV), K(SIGBUS), K(SIGXCPU), K(SIGXFSZ),
	K(PTRACE_ATTACH), K(PTRACE_DETACH), K(PTRACE_CONT), K(PTRACE_KILL), K(PTRACE_GETREGS),
	K(PTRACE_GETREGSET),
};
#undef K
/* clang-format on */

int policy_constant(const char *name, uint64_t *value)
{
	for (size_t i = 0; i < ARRAY_SIZE(constants); i++) {
		if (strcmp(constants[i].name, name) == 0) {
			*value = constants[i].value;
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- lexing one line ---- */

enum tok_type { T_END, T_IDENT, T_NUM, T_OP };

struct token {
	enum tok_type type;
	const char *start;
	size_t len;
	uint64_t num;
};

/* The files being read, innermost last, to find include loops. */
struct include_frame {
	char *real;
	const struct include_frame *outer;
};

struct parser {
	const char *file; /* as shown in messages */
	int lineno;
	const char *line;
	const char *pos;
	struct token tok; /* the current token, at pos */
	char *comment;	  /* pending comment lines */
	struct policy *pol;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int perr(struct parser *ps, const char *at,
						      const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ps->err, ps->errlen, "%s:%d:%d: %s", ps->file, ps->lineno,
		 (int)(at - ps->line) + 1, msg);
	return -EINVAL;
}

static const char *const ops[] = {"==", "!=", "<=", ">=", "&&", "||", "<", ">", "&", "|", "~", ":"};

static int lex_number(struct parser *ps, struct token *t)
{
	const char *s = t->start;
	char *end;

	errno = 0;
	t->num = strtoull(s, &end, 0);
	if (errno == ERANGE)
		return perr(ps, s, "number out of range");
	if (isalnum((unsigned char)*end) || *end == '_')
		return perr(ps, s, "bad number");
	t->type = T_NUM;
	t->len = (size_t)(end - s);
	return 0;
}

/* Reads the token at ps->pos into ps->tok and moves past it. */
static int next(struct parser *ps)
{
	const char *s = ps->pos;
	struct token *t = &ps->tok;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	*t = (struct token){.type = T_END, .start = s};
	if (*s == '\0' || *s == '#') {
		ps->pos = s;
		return 0;
	}
	if (isdigit((unsigned char)*s)) {
		int ret = lex_number(ps, t);

		ps->pos = s + t->len;
		return ret;
	}
	if (isalpha((unsigned char)*s) || *s == '_') {
		while (isalnum((unsigned char)s[t->len]) || s[t->len] == '_')
			t->len++;
		t->type = T_IDENT;
		ps->pos = s + t->len;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		size_t n = strlen(ops[i]);

		if (strncmp(s, ops[i], n) == 0) {
			t->type = T_OP;
			t->len = n;
			ps->pos = s + n;
			return 0;
		}
	}
	return perr(ps, s, "unexpected character '%c'", *s);
}

static bool tok_is(const struct parser *ps, const char *text)
{
	const struct token *t = &ps->tok;

	return (t->type == T_OP || t->type == T_IDENT) && t->len == strlen(text) &&
	       strncmp(t->start, text, t->len) == 0;
}

static int expect(struct parser *ps, const char *text)
{
	if (!tok_is(ps, text))
		return perr(ps, ps->tok.start, "expected '%s'", text);
	return next(ps);
}

/* ---- values and expressions ---- */

static int parse_atom(struct parser *ps, uint64_t *v)
{
	const struct token *t = &ps->tok;

	if (tok_is(ps, "~")) {
		int ret = next(ps);

		if (ret == 0)
			ret = parse_atom(ps, v);
		if (ret == 0)
			*v = ~*v;
		return ret;
	}
	if (t->type == T_NUM) {
		*v = t->num;
		return next(ps);
	}
	if (t->type == T_IDENT) {
		char name[64];

		snprintf(name, sizeof(name), "%.*s", (int)t->len, t->start);
		if (t->len >= sizeof(name) || policy_constant(name, v) < 0)
			return perr(ps, t->start, "unknown constant '%.*s'", (int)t->len, t->start);
		return next(ps);
	}
	return perr(ps, t->start, "expected a number or a constant");
}

/* value := atom ('|' atom)* */
static int parse_value(struct parser *ps, uint64_t *v)
{
	int ret = parse_atom(ps, v);

	while (ret == 0 && tok_is(ps, "|")) {
		uint64_t more = 0;

		ret = next(ps);
		if (ret == 0)
			ret = parse_atom(ps, &more);
		*v |= more;
	}
	return ret;
}

static const struct {
	const char *text;
	enum policy_op op;
} op_table[] = {
    {"==", POLICY_OP_EQ}, {"!=", POLICY_OP_NE}, {"<", POLICY_OP_LT},	   {"<=", POLICY_OP_LE},
    {">", POLICY_OP_GT},  {">=", POLICY_OP_GE}, {"&", POLICY_OP_BITS_SET}, {"in", POLICY_OP_IN},
};

static int parse_cond(struct parser *ps, struct policy_cond *c)
{
	const struct token *t = &ps->tok;
	size_t i;
	int ret;

	if (t->type != T_IDENT || t->len != 4 || strncmp(t->start, "arg", 3) != 0 ||
	    t->start[3] < '0' || t->start[3] >= '0' + POLICY_MAX_ARGS)
		return perr(ps, t->start, "expected arg0..arg5");
	c->arg = (unsigned int)(t->start[3] - '0');
	ret = next(ps);
	if (ret < 0)
		return ret;
	for (i = 0; i < ARRAY_SIZE(op_table); i++) {
		if (tok_is(ps, op_table[i].text))
			break;
	}
	if (i == ARRAY_SIZE(op_table))
		return perr(ps, t->start, "expected a comparison (== != < <= > >= & in)");
	c->op = op_table[i].op;
	ret = next(ps);
	if (ret < 0)
		return ret;
	return parse_value(ps, &c->value);
}

static int push_cond(struct policy_and *a, const struct policy_cond *c)
{
	struct policy_cond *n = realloc(a->conds, (a->nconds + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	a->conds = n;
	a->conds[a->nconds++] = *c;
	return 0;
}

static int push_alt(struct policy_rule *r, const struct policy_and *a)
{
	struct policy_and *n = realloc(r->alts, (r->nalts + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	r->alts = n;
	r->alts[r->nalts++] = *a;
	return 0;
}

/* expr := and ('||' and)*;  and := cond ('&&' cond)* */
static int parse_expr(struct parser *ps, struct policy_rule *r)
{
	int ret;

	do {
		struct policy_and a = {0};

		if (tok_is(ps, "||") && (ret = next(ps)) < 0)
			return ret;
		do {
			struct policy_cond c;

			if (tok_is(ps, "&&") && (ret = next(ps)) < 0)
				goto err_free_and;
			const char *at = ps->tok.start;

			ret = parse_cond(ps, &c);
			for (size_t i = 0; ret == 0 && i < a.nconds; i++) {
				if (a.conds[i].arg == c.arg)
					ret =
					    perr(ps, at,
						 "arg%u is already compared in this && group "
						 "(libseccomp allows one comparison per argument)",
						 c.arg);
			}
			if (ret == 0)
				ret = push_cond(&a, &c);
			if (ret < 0)
				goto err_free_and;
		} while (tok_is(ps, "&&"));
		ret = push_alt(r, &a);
		if (ret < 0) {
		err_free_and:
			free(a.conds);
			return ret;
		}
	} while (tok_is(ps, "||"));
	return 0;
}

/* ---- rules ---- */

static void rule_free(struct policy_rule *r)
{
	for (size_t i = 0; i < r->nalts; i++)
		free(r->alts[i].conds);
	free(r->alts);
	free(r->name);
	free(r->comment);
	free(r->file);
	memset(r, 0, sizeof(*r));
}

static int parse_errno(struct parser *ps, struct policy_rule *r)
{
	const char *at = ps->tok.start;
	uint64_t v;
	int ret = parse_value(ps, &v);

	if (ret < 0)
		return ret;
	if (v > 4095)
		return perr(ps, at, "errno %llu out of range", (unsigned long long)v);
	r->action = POLICY_ERRNO;
	r->errno_value = (int)v;
	return 0;
}

/* rhs := '1' | 'return' value | expr */
static int parse_rhs(struct parser *ps, struct policy_rule *r)
{
	int ret;

	if (ps->tok.type == T_END)
		return perr(ps, ps->tok.start, "expected 1, 'return ERRNO' or an expression");
	if (tok_is(ps, "return")) {
		ret = next(ps);
		return ret < 0 ? ret : parse_errno(ps, r);
	}
	if (ps->tok.type == T_NUM) {
		if (ps->tok.num != 1)
			return perr(ps, ps->tok.start,
				    "expected 1, 'return ERRNO' or an expression");
		return next(ps);
	}
	return parse_expr(ps, r);
}

static int add_warning(struct policy *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int add_warning(struct policy *p, const char *fmt, ...)
{
	char **n = realloc(p->warnings, (p->nwarnings + 1) * sizeof(*n));
	va_list ap;
	int len;

	if (!n)
		return -ENOMEM;
	p->warnings = n;
	va_start(ap, fmt);
	len = vasprintf(&p->warnings[p->nwarnings], fmt, ap);
	va_end(ap);
	if (len < 0)
		return -ENOMEM;
	p->nwarnings++;
	return 0;
}

static bool and_equal(const struct policy_and *a, const struct policy_and *b)
{
	if (a->nconds != b->nconds)
		return false;
	for (size_t i = 0; i < a->nconds; i++) {
		if (a->conds[i].arg != b->conds[i].arg || a->conds[i].op != b->conds[i].op ||
		    a->conds[i].value != b->conds[i].value)
			return false;
	}
	return true;
}

static int join_comment(char **dst, const char *more)
{
	char *n;

	if (!more)
		return 0;
	if (!*dst) {
		*dst = strdup(more);
		return *dst ? 0 : -ENOMEM;
	}
	if (asprintf(&n, "%s\n%s", *dst, more) < 0)
		return -ENOMEM;
	free(*dst);
	*dst = n;
	return 0;
}

/* Conditions of an allow rule naming old's syscall again: ORed into old. Consumes r's alts. */
static int merge_allow(struct parser *ps, struct policy_rule *old, struct policy_rule *r)
{
	const char *why = NULL;
	int ret = 0;

	if (old->nalts == 0 || r->nalts == 0) {
		why = old->nalts == 0 && r->nalts == 0 ? "duplicate rule" : "redundant rule";
		for (size_t i = 0; i < old->nalts; i++)
			free(old->alts[i].conds);
		free(old->alts);
		old->alts = NULL;
		old->nalts = 0;
	}
	for (size_t i = 0; i < r->nalts; i++) {
		bool dup = false;

		for (size_t j = 0; j < old->nalts && !dup; j++)
			dup = and_equal(&old->alts[j], &r->alts[i]);
		if (dup || old->nalts == 0 || ret < 0) {
			if (dup)
				why = "duplicate condition";
			free(r->alts[i].conds);
			continue;
		}
		ret = push_alt(old, &r->alts[i]);
		if (ret < 0)
			free(r->alts[i].conds);
	}
	free(r->alts);
	r->alts = NULL;
	r->nalts = 0;
	if (ret == 0 && why)
		ret = add_warning(ps->pol, "%s:%d:1: %s for '%s' (also at %s:%d)", ps->file,
				  ps->lineno, why, r->name, old->file, old->line);
	return ret;
}

static int merge_rule(struct parser *ps, struct policy_rule *old, struct policy_rule *r,
		      const char *at)
{
	int ret;

	if (old->action != r->action || old->errno_value != r->errno_value)
		return perr(ps, at, "conflicting actions for '%s' (first at %s:%d)", r->name,
			    old->file, old->line);
	if (r->action == POLICY_ERRNO)
		ret = add_warning(ps->pol, "%s:%d:1: duplicate rule for '%s' (also at %s:%d)",
				  ps->file, ps->lineno, r->name, old->file, old->line);
	else
		ret = merge_allow(ps, old, r);
	if (ret == 0)
		ret = join_comment(&old->comment, r->comment);
	return ret;
}

/* Adds r (taking what it owns) to the policy, merging it into a rule for the same syscall. */
static int add_rule(struct parser *ps, struct policy_rule *r, const char *at)
{
	struct policy *p = ps->pol;
	struct policy_rule *n;
	int ret;

	for (size_t i = 0; i < p->nrules; i++) {
		if (p->rules[i].nr == r->nr) {
			ret = merge_rule(ps, &p->rules[i], r, at);
			rule_free(r);
			return ret;
		}
	}
	n = realloc(p->rules, (p->nrules + 1) * sizeof(*n));
	if (!n) {
		rule_free(r);
		return -ENOMEM;
	}
	p->rules = n;
	p->rules[p->nrules++] = *r;
	return 0;
}

/* name ':' rhs, at ps->tok (an identifier). */
static int parse_rule(struct parser *ps)
{
	struct policy_rule r = {.line = ps->lineno};
	const char *at = ps->tok.start;
	int ret;

	r.name = strndup(at, ps->tok.len);
	r.file = strdup(ps->file);
	if (!r.name || !r.file) {
		ret = -ENOMEM;
		goto err_free_rule;
	}
	r.nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, r.name);
	if (r.nr < 0) {
		ret = perr(ps, at, "unknown syscall '%s'", r.name);
		goto err_free_rule;
	}
	ret = next(ps);
	if (ret == 0)
		ret = expect(ps, ":");
	if (ret == 0)
		ret = parse_rhs(ps, &r);
	if (ret == 0 && ps->tok.type != T_END)
		ret = perr(ps, ps->tok.start, "unexpected '%.*s'", (int)ps->tok.len, ps->tok.start);
	if (ret < 0)
		goto err_free_rule;
	r.comment = ps->comment;
	ps->comment = NULL;
	return add_rule(ps, &r, at);

err_free_rule:
	rule_free(&r);
	return ret;
}

/* ---- files ---- */

static int parse_file(struct policy *pol, const char *file, const struct include_frame *outer,
		      int depth, char *err, size_t errlen);

static int parse_include(struct parser *ps, const struct include_frame *frame, int depth)
{
	const char *s = ps->pos, *end;
	char *path;
	int ret;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strcspn(s, "#\r\n");
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end == s)
		return perr(ps, s, "expected a path after @include");
	if (*s == '/') {
		path = strndup(s, (size_t)(end - s));
	} else {
		const char *slash = strrchr(ps->file, '/');
		int dirlen = slash ? (int)(slash - ps->file) + 1 : 0;

		if (asprintf(&path, "%.*s%.*s", dirlen, ps->file, (int)(end - s), s) < 0)
			path = NULL;
	}
	if (!path)
		return -ENOMEM;
	if (depth + 1 >= POLICY_MAX_INCLUDE_DEPTH) {
		ret = perr(ps, s, "includes nested too deeply");
	} else {
		ret = parse_file(ps->pol, path, frame, depth + 1, ps->err, ps->errlen);
		if (ret == -ENOENT || ret == -EACCES || ret == -ELOOP || ret == -EISDIR ||
		    ret == -ENOTDIR)
			ret = ret == -ELOOP
				  ? perr(ps, s, "include loop: '%s' is already being read", path)
				  : perr(ps, s, "cannot read '%s': %s", path, strerror(-ret));
	}
	free(path);
	return ret;
}

static int parse_line(struct parser *ps, const struct include_frame *frame, int depth)
{
	const char *s = ps->line;
	int ret;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '#') {
		s++;
		if (*s == ' ')
			s++;
		return join_comment(&ps->comment, s);
	}
	if (strncmp(s, "@include", 8) == 0 && (s[8] == ' ' || s[8] == '\t' || s[8] == '\0')) {
		free(ps->comment);
		ps->comment = NULL;
		ps->pos = s + 8;
		return parse_include(ps, frame, depth);
	}
	ps->pos = s;
	ret = next(ps);
	if (ret < 0)
		return ret;
	if (ps->tok.type == T_END) { /* a blank line ends a comment block */
		free(ps->comment);
		ps->comment = NULL;
		return 0;
	}
	if (ps->tok.type != T_IDENT)
		return perr(ps, ps->tok.start, "expected a syscall name or @include");
	return parse_rule(ps);
}

static int parse_stream(struct parser *ps, FILE *f, const struct include_frame *frame, int depth)
{
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	int ret = 0;

	while (ret == 0 && (n = getline(&buf, &cap, f)) >= 0) {
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			buf[--n] = '\0';
		ps->lineno++;
		ps->line = buf;
		ret = parse_line(ps, frame, depth);
	}
	if (ret == 0 && ferror(f)) /* a directory opens, then fails to read */
		ret = errno ? -errno : -EIO;
	free(buf);
	free(ps->comment);
	ps->comment = NULL;
	return ret;
}

/*
 * Returns -ENOENT/-EACCES/-ELOOP/... without touching err when file cannot be opened or is
 * already being read, so that the includer can report it at its @include line.
 */
static int parse_file(struct policy *pol, const char *file, const struct include_frame *outer,
		      int depth, char *err, size_t errlen)
{
	struct parser ps = {.file = file, .pol = pol, .err = err, .errlen = errlen};
	struct include_frame frame = {.outer = outer};
	FILE *f;
	int ret;

	frame.real = realpath(file, NULL);
	if (!frame.real)
		return -errno;
	for (const struct include_frame *o = outer; o; o = o->outer) {
		if (strcmp(o->real, frame.real) == 0) {
			free(frame.real);
			return -ELOOP;
		}
	}
	f = fopen(file, "re");
	if (!f) {
		ret = -errno;
		free(frame.real);
		return ret;
	}
	ret = parse_stream(&ps, f, &frame, depth);
	if (ret == -ENOMEM)
		snprintf(err, errlen, "%s:%d:1: out of memory", file, ps.lineno);
	fclose(f);
	free(frame.real);
	return ret;
}

int policy_load(const char *path, struct policy *p, char *err, size_t errlen)
{
	int ret;

	memset(p, 0, sizeof(*p));
	ret = parse_file(p, path, NULL, 0, err, errlen);
	if (ret < 0 && ret != -EINVAL && ret != -ENOMEM)
		snprintf(err, errlen, "%s:0:0: cannot read: %s", path, strerror(-ret));
	if (ret < 0)
		policy_free(p);
	return ret;
}

void policy_free(struct policy *p)
{
	for (size_t i = 0; i < p->nrules; i++)
		rule_free(&p->rules[i]);
	free(p->rules);
	for (size_t i = 0; i < p->nwarnings; i++)
		free(p->warnings[i]);
	free(p->warnings);
	memset(p, 0, sizeof(*p));
}

const struct policy_rule *policy_find(const struct policy *p, int nr)
{
	for (size_t i = 0; i < p->nrules; i++) {
		if (p->rules[i].nr == nr)
			return &p->rules[i];
	}
	return NULL;
}
