/* The seccomp policy parser (jail/policy.c): every construct and every error with its position. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "policy.h"

#define DATA TEST_DATA_DIR "/policy/"

static char tmpdir[64];
static char tmpfile_path[128];

/* Writes text to <tmpdir>/t.policy and loads it. */
static int load_text(const char *text, struct policy *p, char *err, size_t errlen)
{
	FILE *f;

	if (!tmpdir[0]) {
		strcpy(tmpdir, "/tmp/policy_test.XXXXXX");
		cr_assert_not_null(mkdtemp(tmpdir));
		snprintf(tmpfile_path, sizeof(tmpfile_path), "%s/t.policy", tmpdir);
	}
	f = fopen(tmpfile_path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return policy_load(tmpfile_path, p, err, errlen);
}

static void cleanup(void)
{
	if (tmpdir[0]) {
		unlink(tmpfile_path);
		rmdir(tmpdir);
	}
}

TestSuite(policy, .fini = cleanup);

/* Expects text to fail with "<t.policy>:where: msg". */
static void expect_error(const char *text, const char *where_msg)
{
	struct policy p;
	char err[512] = "", want[512];

	cr_assert_lt(load_text(text, &p, err, sizeof(err)), 0, "%s", text);
	snprintf(want, sizeof(want), "%s:%s", tmpfile_path, where_msg);
	cr_assert_str_eq(err, want);
	cr_assert_eq(p.nrules, 0);
	cr_assert_null(p.rules);
}

static const struct policy_rule *rule(const struct policy *p, long nr)
{
	const struct policy_rule *r = policy_find(p, (int)nr);

	cr_assert_not_null(r, "no rule for syscall %ld", nr);
	return r;
}

static void assert_cond(const struct policy_cond *c, unsigned int arg, enum policy_op op,
			uint64_t value)
{
	cr_assert_eq(c->arg, arg);
	cr_assert_eq(c->op, op);
	cr_assert_eq(c->value, value, "value %#llx != %#llx", (unsigned long long)c->value,
		     (unsigned long long)value);
}

Test(policy, every_construct)
{
	struct policy p;
	char err[512] = "";
	const struct policy_rule *r;

	cr_assert_eq(policy_load(DATA "basic.policy", &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p.nrules, 8);
	cr_assert_eq(p.nwarnings, 0);

	r = rule(&p, SYS_read);
	cr_assert_str_eq(r->name, "read");
	cr_assert_eq(r->action, POLICY_ALLOW);
	cr_assert_eq(r->nalts, 0);
	cr_assert_eq(r->line, 4);
	cr_assert_str_eq(r->file, DATA "basic.policy");

	r = rule(&p, SYS_write);
	cr_assert_eq(r->nalts, 2);
	cr_assert_eq(r->alts[0].nconds, 1);
	assert_cond(&r->alts[0].conds[0], 0, POLICY_OP_EQ, 1);
	assert_cond(&r->alts[1].conds[0], 0, POLICY_OP_EQ, 2);

	r = rule(&p, SYS_mmap);
	cr_assert_eq(r->nalts, 1);
	cr_assert_eq(r->alts[0].nconds, 2);
	assert_cond(&r->alts[0].conds[0], 2, POLICY_OP_IN, ~(uint64_t)PROT_EXEC);
	assert_cond(&r->alts[0].conds[1], 3, POLICY_OP_BITS_SET, MAP_SHARED | MAP_PRIVATE);

	r = rule(&p, SYS_openat);
	assert_cond(&r->alts[0].conds[0], 2, POLICY_OP_EQ, O_RDONLY | O_CLOEXEC);

	r = rule(&p, SYS_ioctl);
	cr_assert_eq(r->nalts, 4);
	assert_cond(&r->alts[0].conds[0], 1, POLICY_OP_EQ, TCGETS);
	assert_cond(&r->alts[1].conds[0], 1, POLICY_OP_EQ, 0x80081272);
	assert_cond(&r->alts[2].conds[0], 1, POLICY_OP_EQ, 0755);
	assert_cond(&r->alts[3].conds[0], 1, POLICY_OP_EQ, 0x5421);

	r = rule(&p, SYS_lseek);
	cr_assert_eq(r->nalts, 1);
	cr_assert_eq(r->alts[0].nconds, 6);
	assert_cond(&r->alts[0].conds[0], 0, POLICY_OP_NE, 3);
	assert_cond(&r->alts[0].conds[1], 1, POLICY_OP_LT, 10);
	assert_cond(&r->alts[0].conds[2], 2, POLICY_OP_GT, 0);
	assert_cond(&r->alts[0].conds[3], 3, POLICY_OP_GE, 1);
	assert_cond(&r->alts[0].conds[4], 4, POLICY_OP_EQ, 4);
	assert_cond(&r->alts[0].conds[5], 5, POLICY_OP_LE, 5);

	r = rule(&p, SYS_getrandom);
	cr_assert_eq(r->nalts, 0);

	r = rule(&p, SYS_mkdir);
	cr_assert_eq(r->action, POLICY_ERRNO);
	cr_assert_eq(r->errno_value, EPERM);
	cr_assert_null(policy_find(&p, SYS_getpid));
	policy_free(&p);
	cr_assert_eq(p.nrules, 0);
}

Test(policy, comments_are_kept_as_justification)
{
	struct policy p;
	char err[512] = "";

	cr_assert_eq(policy_load(DATA "basic.policy", &p, err, sizeof(err)), 0, "%s", err);
	/* The file's header comment is separated from the first rule by a blank line. */
	cr_assert_str_eq(rule(&p, SYS_read)->comment, "The tube reads.");
	cr_assert_str_eq(rule(&p, SYS_write)->comment,
			 "Logging goes to stdout or stderr only.\n(two comment lines, both kept)");
	cr_assert_null(rule(&p, SYS_mmap)->comment);
	policy_free(&p);
}

Test(policy, numbers_and_complement)
{
	struct policy p;
	char err[512] = "";
	const struct policy_rule *r;

	cr_assert_eq(load_text("close: arg0 == 0x1F || arg0 == 017 || arg0 == 0 || "
			       "arg0 == ~0 || arg0 == ~PROT_READ|PROT_READ || arg0 == 1|2|4\n",
			       &p, err, sizeof(err)),
		     0, "%s", err);
	r = rule(&p, SYS_close);
	cr_assert_eq(r->nalts, 6);
	cr_assert_eq(r->alts[0].conds[0].value, 0x1f);
	cr_assert_eq(r->alts[1].conds[0].value, 15);
	cr_assert_eq(r->alts[2].conds[0].value, 0);
	cr_assert_eq(r->alts[3].conds[0].value, UINT64_MAX);
	cr_assert_eq(r->alts[4].conds[0].value, UINT64_MAX);
	cr_assert_eq(r->alts[5].conds[0].value, 7);
	policy_free(&p);
}

Test(policy, return_errno_by_number)
{
	struct policy p;
	char err[512] = "";

	cr_assert_eq(load_text("mkdir: return 13\n", &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rule(&p, SYS_mkdir)->action, POLICY_ERRNO);
	cr_assert_eq(rule(&p, SYS_mkdir)->errno_value, 13);
	policy_free(&p);
}

Test(policy, constants)
{
	uint64_t v;

	cr_assert_eq(policy_constant("O_CLOEXEC", &v), 0);
	cr_assert_eq(v, O_CLOEXEC);
	cr_assert_eq(policy_constant("EPERM", &v), 0);
	cr_assert_eq(v, 1);
	cr_assert_eq(policy_constant("BLKGETSIZE64", &v), 0);
	cr_assert_eq(v, 0x80081272);
	cr_assert_eq(policy_constant("O_NOPE", &v), -ENOENT);
}

Test(policy, same_syscall_twice_is_ored)
{
	struct policy p;
	char err[512] = "";
	const struct policy_rule *r;

	cr_assert_eq(load_text("# one\nwrite: arg0 == 1\n# two\nwrite: arg0 == 2 && arg2 < 9\n", &p,
			       err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(p.nrules, 1);
	cr_assert_eq(p.nwarnings, 0);
	r = rule(&p, SYS_write);
	cr_assert_eq(r->nalts, 2);
	cr_assert_eq(r->alts[1].nconds, 2);
	cr_assert_eq(r->line, 2);
	cr_assert_str_eq(r->comment, "one\ntwo");
	policy_free(&p);
}

Test(policy, include_merges_with_or)
{
	struct policy p;
	char err[512] = "";
	const struct policy_rule *r;

	cr_assert_eq(policy_load(DATA "device.policy", &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p.nrules, 3);
	cr_assert_eq(p.nwarnings, 0);
	r = rule(&p, SYS_write);
	cr_assert_str_eq(r->file, DATA "common.policy");
	cr_assert_eq(r->line, 2);
	cr_assert_eq(r->nalts, 2);
	assert_cond(&r->alts[0].conds[0], 0, POLICY_OP_EQ, 2);
	assert_cond(&r->alts[1].conds[0], 0, POLICY_OP_EQ, 1);
	cr_assert_str_eq(r->comment,
			 "stderr logging (common.policy)\nthe device's own output (device.policy)");
	r = rule(&p, SYS_exit_group);
	cr_assert_str_eq(r->file, DATA "common.policy");
	r = rule(&p, SYS_read);
	cr_assert_str_eq(r->file, DATA "device.policy");
	cr_assert_eq(r->line, 5);
	cr_assert_null(r->comment);
	policy_free(&p);
}

Test(policy, nested_include_is_relative_to_its_file)
{
	struct policy p;
	char err[512] = "";

	cr_assert_eq(policy_load(DATA "nested/top.policy", &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p.nrules, 3);
	cr_assert_str_eq(rule(&p, SYS_exit_group)->file, DATA "nested/sub/leaf.policy");
	cr_assert_str_eq(rule(&p, SYS_close)->file, DATA "nested/sub/mid.policy");
	cr_assert_null(rule(&p, SYS_close)->comment);
	policy_free(&p);
}

static void expect_file_error(const char *file, const char *want)
{
	struct policy p;
	char err[512] = "";

	cr_assert_lt(policy_load(file, &p, err, sizeof(err)), 0);
	cr_assert_str_eq(err, want);
	cr_assert_eq(p.nrules, 0);
}

Test(policy, include_loop)
{
	expect_file_error(DATA "loop_a.policy", DATA "loop_b.policy:2:10: include loop: '" DATA
						     "loop_a.policy' is already being read");
	expect_file_error(DATA "self_loop.policy",
			  DATA "self_loop.policy:1:10: include loop: '" DATA
			       "self_loop.policy' is already being read");
}

Test(policy, unreadable_include)
{
	expect_file_error(DATA "missing_include.policy",
			  DATA "missing_include.policy:2:10: cannot read '" DATA
			       "does_not_exist.policy': No such file or directory");
}

Test(policy, include_depth_is_limited)
{
	char dir[] = "/tmp/policy_depth.XXXXXX", path[128], want[512];
	struct policy p;
	char err[512] = "";
	int n = POLICY_MAX_INCLUDE_DEPTH;

	cr_assert_not_null(mkdtemp(dir));
	for (int i = 0; i <= n; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/d%d.policy", dir, i);
		f = fopen(path, "w");
		cr_assert_not_null(f);
		fprintf(f, "@include d%d.policy\n", i + 1);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/d0.policy", dir);
	cr_assert_lt(policy_load(path, &p, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/d%d.policy:1:10: includes nested too deeply", dir, n - 1);
	cr_assert_str_eq(err, want);
	for (int i = 0; i <= n; i++) {
		snprintf(path, sizeof(path), "%s/d%d.policy", dir, i);
		unlink(path);
	}
	rmdir(dir);
}

Test(policy, include_of_a_directory)
{
	expect_file_error(DATA "dir_include.policy", DATA
			  "dir_include.policy:1:10: cannot read '" DATA "nested': Is a directory");
	expect_file_error(DATA "nested", DATA "nested:0:0: cannot read: Is a directory");
}

Test(policy, error_inside_include_names_that_file)
{
	expect_file_error(DATA "bad_outer.policy",
			  DATA "bad_inner.policy:3:16: unknown constant 'NOT_A_CONSTANT'");
}

Test(policy, missing_file)
{
	expect_file_error(DATA "nope.policy",
			  DATA "nope.policy:0:0: cannot read: No such file or directory");
}

Test(policy, syntax_errors)
{
	expect_error("read 1\n", "1:6: expected ':'");
	expect_error("read:\n", "1:6: expected 1, 'return ERRNO' or an expression");
	expect_error("read: 2\n", "1:7: expected 1, 'return ERRNO' or an expression");
	expect_error("read: 1 1\n", "1:9: unexpected '1'");
	expect_error("read: arg0 == 1 extra\n", "1:17: unexpected 'extra'");
	expect_error("read: arg0 == 1 &&\n", "1:19: expected arg0..arg5");
	expect_error("read: arg0 == 1 ||\n", "1:19: expected arg0..arg5");
	expect_error("read: arg6 == 1\n", "1:7: expected arg0..arg5");
	expect_error("read: args == 1\n", "1:7: expected arg0..arg5");
	expect_error("read: arg0 1\n", "1:12: expected a comparison (== != < <= > >= & in)");
	expect_error("read: arg0 = 1\n", "1:12: unexpected character '='");
	expect_error("read: arg0 ==\n", "1:14: expected a number or a constant");
	expect_error("read: arg0 == 1|\n", "1:17: expected a number or a constant");
	expect_error("read: arg0 == ~\n", "1:16: expected a number or a constant");
	expect_error("read: arg0 == 0x\n", "1:15: bad number");
	expect_error("read: arg0 == 12ab\n", "1:15: bad number");
	expect_error("read: arg0 == 99999999999999999999999\n", "1:15: number out of range");
	expect_error("read: return\n", "1:13: expected a number or a constant");
	expect_error("read: return 4096\n", "1:14: errno 4096 out of range");
	expect_error("$read: 1\n", "1:1: unexpected character '$'");
	expect_error(": 1\n", "1:1: expected a syscall name or @include");
	expect_error("@include\n", "1:9: expected a path after @include");
	expect_error("# comment\n\n  write: arg0 == 1\n  read: x\n", "4:9: expected arg0..arg5");
	expect_error("read: arg1 > 1 && arg1 < 5\n",
		     "1:19: arg1 is already compared in this && "
		     "group (libseccomp allows one comparison per argument)");
}

Test(policy, unknown_names)
{
	expect_error("read: 1\nnot_a_syscall: 1\n", "2:1: unknown syscall 'not_a_syscall'");
	expect_error("  read: arg0 == O_BOGUS\n", "1:17: unknown constant 'O_BOGUS'");
	expect_error("read: return EBOGUS\n", "1:14: unknown constant 'EBOGUS'");
}

Test(policy, conflicting_actions)
{
	struct policy p;
	char err[512], want[256];

	/* tmpfile_path is only known after a first load. */
	cr_assert_eq(load_text("read: 1\n", &p, err, sizeof(err)), 0);
	policy_free(&p);
	snprintf(want, sizeof(want), "2:1: conflicting actions for 'read' (first at %s:1)",
		 tmpfile_path);
	expect_error("read: 1\nread: return EPERM\n", want);
	expect_error("read: return EPERM\nread: return EACCES\n", want);
	expect_error("read: return EPERM\nread: arg0 == 1\n", want);
}

Test(policy, redundant_rules_are_warnings)
{
	struct policy p;
	char err[512] = "", want[512];

	cr_assert_eq(load_text("read: 1\nread: arg0 == 1\nwrite: arg0 == 1\nwrite: arg0 == 1\n"
			       "close: 1\nclose: 1\nopenat: arg1 == 0\nopenat: 1\n"
			       "mkdir: return EPERM\nmkdir: return EPERM\n",
			       &p, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(p.nrules, 5);
	cr_assert_eq(rule(&p, SYS_read)->nalts, 0);
	cr_assert_eq(rule(&p, SYS_write)->nalts, 1);
	cr_assert_eq(rule(&p, SYS_close)->nalts, 0);
	cr_assert_eq(rule(&p, SYS_openat)->nalts, 0);
	cr_assert_eq(p.nwarnings, 5);
	snprintf(want, sizeof(want), "%s:2:1: redundant rule for 'read' (also at %s:1)",
		 tmpfile_path, tmpfile_path);
	cr_assert_str_eq(p.warnings[0], want);
	snprintf(want, sizeof(want), "%s:4:1: duplicate condition for 'write' (also at %s:3)",
		 tmpfile_path, tmpfile_path);
	cr_assert_str_eq(p.warnings[1], want);
	snprintf(want, sizeof(want), "%s:6:1: duplicate rule for 'close' (also at %s:5)",
		 tmpfile_path, tmpfile_path);
	cr_assert_str_eq(p.warnings[2], want);
	snprintf(want, sizeof(want), "%s:8:1: redundant rule for 'openat' (also at %s:7)",
		 tmpfile_path, tmpfile_path);
	cr_assert_str_eq(p.warnings[3], want);
	snprintf(want, sizeof(want), "%s:10:1: duplicate rule for 'mkdir' (also at %s:9)",
		 tmpfile_path, tmpfile_path);
	cr_assert_str_eq(p.warnings[4], want);
	policy_free(&p);
}
