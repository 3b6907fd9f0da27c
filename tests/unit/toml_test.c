/* The vm.toml parser: every accepted form, every error with its line:col. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toml.h"
#include "util.h"

static struct toml_table *parse_ok(const char *text)
{
	struct toml_table *t = NULL;
	struct toml_error err;
	int ret = toml_parse(text, strlen(text), &t, &err);

	cr_assert_eq(ret, 0, "parse failed: %d:%d: %s", err.line, err.col, err.msg);
	cr_assert_not_null(t);
	return t;
}

/* text must fail with exactly "line:col: msg". */
static void parse_err_n(const char *text, size_t len, int line, int col, const char *msg)
{
	struct toml_table *t = (struct toml_table *)&t;
	struct toml_error err;
	char got[300], want[300];
	int ret = toml_parse(text, len, &t, &err);

	cr_assert_eq(ret, -EINVAL, "no error for <%s>", text);
	cr_assert_null(t);
	snprintf(got, sizeof(got), "%d:%d: %s", err.line, err.col, err.msg);
	snprintf(want, sizeof(want), "%d:%d: %s", line, col, msg);
	cr_assert_str_eq(got, want, "for <%s>: got <%s>, want <%s>", text, got, want);
}

static void parse_err(const char *text, int line, int col, const char *msg)
{
	parse_err_n(text, strlen(text), line, col, msg);
}

static void expect_str(const char *text, const char *want)
{
	struct toml_table *t = parse_ok(text);
	const struct toml_value *v = toml_get(t, "k");

	cr_assert_not_null(v);
	cr_assert_eq(v->type, TOML_STRING);
	cr_assert_str_eq(v->u.str, want, "for <%s>", text);
	toml_free(t);
}

static void expect_int(const char *lit, int64_t want)
{
	char text[128];
	struct toml_table *t;
	const struct toml_value *v;

	snprintf(text, sizeof(text), "k = %s", lit);
	t = parse_ok(text);
	v = toml_get(t, "k");
	cr_assert_eq(v->type, TOML_INT, "for %s", lit);
	cr_assert_eq(v->u.i, want, "%s gave %lld", lit, (long long)v->u.i);
	toml_free(t);
}

/* Strings */

Test(toml, basic_string_escapes)
{
	expect_str("k = \"a\\bb\\tc\\nd\\fe\\rf\\\"g\\\\h\"", "a\bb\tc\nd\fe\rf\"g\\h");
	expect_str("k = \"\\\\n\"", "\\n");
}

Test(toml, unicode_escapes)
{
	expect_str("k = \"\\u0041\"", "A");
	expect_str("k = \"\\u00e9\\u00E9\"", "\xc3\xa9\xc3\xa9");
	expect_str("k = \"\\u20AC\"", "\xe2\x82\xac");
	expect_str("k = \"\\U0001F600\"", "\xf0\x9f\x98\x80");
	expect_str("k = \"\\U0010FFFF\"", "\xf4\x8f\xbf\xbf");
	expect_str("k = \"\\u007f\"", "\x7f");
	expect_str("k = \"\\u0080\\u07ff\\u0800\\uffff\"",
		   "\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf");
}

Test(toml, utf8_tab_and_hash_in_strings)
{
	expect_str("k = \"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"",
		   "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80");
	expect_str("k = \"a\tb\"", "a\tb");
	expect_str("k = \"# not a comment\" # a comment", "# not a comment");
	expect_str("k = 'a#b' #c", "a#b");
}

Test(toml, literal_strings)
{
	expect_str("k = 'C:\\path\\n \"q\"'", "C:\\path\\n \"q\"");
	expect_str("k = '\\u0041'", "\\u0041");
	expect_str("k = 'tab\there'", "tab\there");
}

Test(toml, empty_strings)
{
	expect_str("k = \"\"", "");
	expect_str("k = ''", "");
}

/* Integers */

Test(toml, decimal_integers)
{
	expect_int("0", 0);
	expect_int("+0", 0);
	expect_int("-0", 0);
	expect_int("42", 42);
	expect_int("+42", 42);
	expect_int("-17", -17);
	expect_int("1_000_000", 1000000);
	expect_int("-1_2_3", -123);
	expect_int("9223372036854775807", INT64_MAX);
	expect_int("-9223372036854775808", INT64_MIN);
}

Test(toml, prefixed_integers)
{
	expect_int("0xdeadBEEF", 0xdeadbeef);
	expect_int("0xdead_beef", 0xdeadbeef);
	expect_int("0x00ff", 0xff);
	expect_int("0x7fffffffffffffff", INT64_MAX);
	expect_int("0o755", 0755);
	expect_int("0o0", 0);
	expect_int("0b1101_0101", 0xd5);
	expect_int("0b0", 0);
}

Test(toml, booleans)
{
	struct toml_table *t = parse_ok("a = true\nb = false\n");

	cr_assert_eq(toml_get(t, "a")->type, TOML_BOOL);
	cr_assert(toml_get(t, "a")->u.b);
	cr_assert_not(toml_get(t, "b")->u.b);
	toml_free(t);
}

/* Arrays */

Test(toml, arrays)
{
	struct toml_table *t = parse_ok("a = [1, 2, 3]\nb = []\nc = [ 'x', \"y\", ]\n"
					"d = [1, 'mixed', true]\n");
	const struct toml_value *a = toml_get(t, "a"), *b = toml_get(t, "b");
	const struct toml_value *c = toml_get(t, "c"), *d = toml_get(t, "d");

	cr_assert_eq(a->type, TOML_ARRAY);
	cr_assert_not(a->table_array);
	cr_assert_eq(a->u.arr.n, 3);
	cr_assert_eq(a->u.arr.items[2].u.i, 3);
	cr_assert_eq(a->u.arr.items[2].col, 12);
	cr_assert_eq(b->u.arr.n, 0);
	cr_assert_eq(c->u.arr.n, 2);
	cr_assert_str_eq(c->u.arr.items[1].u.str, "y");
	cr_assert_eq(d->u.arr.items[1].type, TOML_STRING);
	cr_assert_eq(d->u.arr.items[2].type, TOML_BOOL);
	toml_free(t);
}

Test(toml, multiline_arrays_with_comments)
{
	struct toml_table *t = parse_ok("hide = [ # features\n"
					"\t\"xsave\", # first\n"
					"\n"
					"  'avx512f'\n"
					"  , # comma on its own line\n"
					"]  # done\n"
					"next = 1\n");
	const struct toml_value *v = toml_get(t, "hide");

	cr_assert_eq(v->u.arr.n, 2);
	cr_assert_str_eq(v->u.arr.items[0].u.str, "xsave");
	cr_assert_eq(v->u.arr.items[1].line, 4);
	cr_assert_eq(v->u.arr.items[1].col, 3);
	cr_assert_eq(toml_get(t, "next")->line, 7);
	toml_free(t);
}

Test(toml, nested_arrays)
{
	struct toml_table *t = parse_ok("a = [[1, 2], ['x'], [], [[true]]]");
	const struct toml_value *a = toml_get(t, "a");

	cr_assert_eq(a->u.arr.n, 4);
	cr_assert_eq(a->u.arr.items[0].type, TOML_ARRAY);
	cr_assert_eq(a->u.arr.items[0].u.arr.items[1].u.i, 2);
	cr_assert_str_eq(a->u.arr.items[1].u.arr.items[0].u.str, "x");
	cr_assert_eq(a->u.arr.items[2].u.arr.n, 0);
	cr_assert(a->u.arr.items[3].u.arr.items[0].u.arr.items[0].u.b);
	toml_free(t);
}

/* Tables */

Test(toml, tables)
{
	struct toml_table *t = parse_ok("top = 1\n[vm]\ncpus = 2\n  [ serial ]  \nmode = 'file'\n");
	const struct toml_value *vm = toml_get(t, "vm"), *serial = toml_get(t, "serial");

	cr_assert_eq(toml_get(t, "top")->u.i, 1);
	cr_assert_eq(vm->type, TOML_TABLE);
	cr_assert_eq(vm->line, 2);
	cr_assert_eq(vm->col, 2);
	cr_assert_eq(toml_get(vm->u.table, "cpus")->u.i, 2);
	cr_assert_null(toml_get(vm->u.table, "mode"));
	cr_assert_str_eq(toml_get(serial->u.table, "mode")->u.str, "file");
	cr_assert_eq(serial->col, 5);
	cr_assert_eq(t->n, 3);
	cr_assert_str_eq(t->kv[1].key, "vm");
	toml_free(t);
}

Test(toml, dotted_table_names)
{
	struct toml_table *t = parse_ok("[a.b.c]\nx = 1\n[a]\ny = 2\n[a.b]\nz = 3\n"
					"[ \"q k\" . 'lit' ]\nw = 4\n");
	const struct toml_value *a = toml_get(t, "a");
	const struct toml_value *b = toml_get(a->u.table, "b");
	const struct toml_value *c = toml_get(b->u.table, "c");
	const struct toml_value *q = toml_get(t, "q k");

	cr_assert_eq(toml_get(c->u.table, "x")->u.i, 1);
	cr_assert_eq(toml_get(a->u.table, "y")->u.i, 2);
	cr_assert_eq(toml_get(b->u.table, "z")->u.i, 3);
	cr_assert(a->u.table->defined);
	cr_assert_eq(toml_get(toml_get(q->u.table, "lit")->u.table, "w")->u.i, 4);
	toml_free(t);
}

Test(toml, arrays_of_tables)
{
	struct toml_table *t = parse_ok("[[disk]]\npath = 'a.img'\n[disk.opts]\nro = true\n"
					"[[disk]]\npath = 'b.img'\n[[disk]]\n");
	const struct toml_value *d = toml_get(t, "disk");
	const struct toml_table *d0;

	cr_assert_eq(d->type, TOML_ARRAY);
	cr_assert(d->table_array);
	cr_assert_eq(d->u.arr.n, 3);
	d0 = d->u.arr.items[0].u.table;
	cr_assert_str_eq(toml_get(d0, "path")->u.str, "a.img");
	cr_assert(toml_get(toml_get(d0, "opts")->u.table, "ro")->u.b);
	cr_assert_str_eq(toml_get(d->u.arr.items[1].u.table, "path")->u.str, "b.img");
	cr_assert_eq(d->u.arr.items[2].u.table->n, 0);
	cr_assert_eq(d->u.arr.items[2].line, 7);
	cr_assert_str_eq(toml_type_name(d), "an array of tables");
	toml_free(t);
}

Test(toml, quoted_and_bare_keys)
{
	struct toml_table *t = parse_ok("\"key with space\" = 1\n'lit\\key' = 2\n"
					"\"\\u00fcn\xc3\xaf"
					"code\" = 3\n1234 = 4\n-_ = 5\nA-z_9 = 6\n");

	cr_assert_eq(toml_get(t, "key with space")->u.i, 1);
	cr_assert_eq(toml_get(t, "lit\\key")->u.i, 2);
	cr_assert_eq(toml_get(t, "\xc3\xbcn\xc3\xaf"
				 "code")
			 ->u.i,
		     3);
	cr_assert_eq(toml_get(t, "1234")->u.i, 4);
	cr_assert_eq(toml_get(t, "-_")->u.i, 5);
	cr_assert_eq(toml_get(t, "A-z_9")->u.i, 6);
	cr_assert_eq(t->kv[1].line, 2);
	cr_assert_eq(t->kv[1].col, 1);
	toml_free(t);
}

Test(toml, comments_and_blank_lines)
{
	struct toml_table *t = parse_ok("# only a comment\n\n   \t\n# \xc3\xa9t\xc3\xa9 \t tab\n"
					"[t] # after a header\n  a = 1 # after a value\n#end");

	cr_assert_eq(toml_get(toml_get(t, "t")->u.table, "a")->u.i, 1);
	cr_assert_eq(toml_get(toml_get(t, "t")->u.table, "a")->line, 6);
	toml_free(t);
}

Test(toml, empty_documents)
{
	const char *docs[] = {"", "\n", "# c", "\r\n\r\n", "\xef\xbb\xbf", "  \t "};

	for (size_t i = 0; i < ARRAY_SIZE(docs); i++) {
		struct toml_table *t = parse_ok(docs[i]);

		cr_assert_eq(t->n, 0);
		toml_free(t);
	}
}

Test(toml, crlf_line_endings)
{
	struct toml_table *t =
	    parse_ok("a = 1\r\n# c\r\n[t]\r\nb = [1,\r\n 2, # x\r\n]\r\nc = 'x'");
	const struct toml_value *tt = toml_get(t, "t");

	cr_assert_eq(toml_get(tt->u.table, "b")->u.arr.n, 2);
	cr_assert_eq(toml_get(tt->u.table, "c")->line, 7);
	cr_assert_eq(toml_get(tt->u.table, "c")->col, 5);
	toml_free(t);
	parse_err("a = 1\r\nb = 2 x\r\n", 2, 7, "unexpected 'x' after value");
	parse_err("a = \"x\r\n\"", 1, 7, "newline in string");
}

Test(toml, byte_order_mark_is_skipped)
{
	struct toml_table *t = parse_ok("\xef\xbb\xbf"
					"a = 1");

	cr_assert_eq(toml_get(t, "a")->col, 5);
	toml_free(t);
}

Test(toml, get_and_free_edges)
{
	struct toml_table *t = parse_ok("a = 1");

	cr_assert_null(toml_get(t, "b"));
	cr_assert_null(toml_get(NULL, "a"));
	toml_free(t);
	toml_free(NULL);
}

Test(toml, null_error_pointer)
{
	struct toml_table *t;

	cr_assert_eq(toml_parse("a = ", 4, &t, NULL), -EINVAL);
	cr_assert_eq(toml_parse(NULL, 0, &t, NULL), 0);
	toml_free(t);
}

Test(toml, embedded_length_not_nul)
{
	struct toml_table *t;
	struct toml_error err;

	/* only len bytes are read: the rest is not part of the document */
	cr_assert_eq(toml_parse("a = 1 garbage", 5, &t, &err), 0);
	cr_assert_eq(toml_get(t, "a")->u.i, 1);
	toml_free(t);
	parse_err_n("a = \"x\0\"", 8, 1, 7, "control character U+0000 in string");
}

Test(toml, printable)
{
	char buf[8];

	cr_assert_str_eq(toml_printable("a\nb\x7f", buf, sizeof(buf)), "a?b?");
	cr_assert_str_eq(toml_printable("0123456789", buf, sizeof(buf)), "0123...");
}

/* Errors: strings */

Test(toml, unterminated_string)
{
	parse_err("a = \"abc", 1, 5, "unterminated string");
	parse_err("a = 'abc", 1, 5, "unterminated string");
	parse_err("x = 1\na = \"abc\\", 2, 5, "unterminated string");
	parse_err("\"abc", 1, 1, "unterminated string");
}

Test(toml, newline_in_string)
{
	parse_err("a = \"abc\nb = 1", 1, 9, "newline in string");
	parse_err("a = 'abc\nb = 1", 1, 9, "newline in string");
	parse_err("[\"ab\n]", 1, 5, "newline in string");
}

Test(toml, bad_escapes)
{
	parse_err("a = \"x\\q\"", 1, 7, "invalid escape: '\\' followed by 'q'");
	parse_err("a = \"x\\ \"", 1, 7, "invalid escape: '\\' followed by byte 0x20");
	parse_err("a = \"\\\nb\"", 1, 6, "invalid escape: '\\' followed by end of line");
	parse_err("a = \"\\x41\"", 1, 6, "invalid escape: '\\' followed by 'x'");
}

Test(toml, invalid_unicode)
{
	parse_err("a = \"\\uD800\"", 1, 6, "invalid unicode escape: U+D800 is a surrogate");
	parse_err("a = \"ok \\udfff\"", 1, 9, "invalid unicode escape: U+DFFF is a surrogate");
	parse_err("a = \"\\U00110000\"", 1, 6,
		  "invalid unicode escape: U+110000 is beyond U+10FFFF");
	parse_err("a = \"\\UFFFFFFFF\"", 1, 6,
		  "invalid unicode escape: U+FFFFFFFF is beyond U+10FFFF");
	parse_err("a = \"\\u12\"", 1, 6, "invalid unicode escape: \\u needs 4 hex digits");
	parse_err("a = \"\\U1234567\"", 1, 6, "invalid unicode escape: \\U needs 8 hex digits");
	parse_err("a = \"\\u12g4\"", 1, 6, "invalid unicode escape: \\u needs 4 hex digits");
	parse_err("a = \"\\u", 1, 6, "invalid unicode escape: \\u needs 4 hex digits");
	parse_err("a = \"\\u0000\"", 1, 6, "unicode escape U+0000 (NUL) is not supported");
}

Test(toml, invalid_utf8)
{
	parse_err("a = \"\xff\"", 1, 6, "invalid UTF-8 in string");
	parse_err("a = \"\xc0\xaf\"", 1, 6, "invalid UTF-8 in string");	      /* overlong '/' */
	parse_err("a = \"\xed\xa0\x80\"", 1, 6, "invalid UTF-8 in string");   /* surrogate */
	parse_err("a = '\xf4\x90\x80\x80'", 1, 6, "invalid UTF-8 in string"); /* > U+10FFFF */
	parse_err("a = \"\xe2\x82\"", 1, 6, "invalid UTF-8 in string");	      /* truncated */
	parse_err("a = \"\xe2\x82", 1, 6, "invalid UTF-8 in string");
	parse_err("# \x80\n", 1, 3, "invalid UTF-8 in comment");
	/* columns count characters: the error is 3 characters (7 bytes) after the quote */
	parse_err("a = \"\xc3\xa9\xe2\x82\xac\xc3\xa9\xff\"", 1, 9, "invalid UTF-8 in string");
}

Test(toml, multiline_strings_unsupported)
{
	parse_err("a = \"\"\"x\"\"\"", 1, 5, "multi-line strings are not supported");
	parse_err("a = '''x'''", 1, 5, "multi-line strings are not supported");
}

/* Errors: numbers and other scalars */

Test(toml, leading_zeros)
{
	parse_err("a = 007", 1, 5, "leading zeros are not allowed: '007'");
	parse_err("a = -01", 1, 5, "leading zeros are not allowed: '-01'");
	parse_err("a = +00", 1, 5, "leading zeros are not allowed: '+00'");
	parse_err("a = 0_1", 1, 5, "leading zeros are not allowed: '0_1'");
}

Test(toml, integer_overflow)
{
	parse_err("a = 9223372036854775808", 1, 5, "integer out of range: '9223372036854775808'");
	parse_err("a = -9223372036854775809", 1, 5, "integer out of range: '-9223372036854775809'");
	parse_err("a = 99999999999999999999999", 1, 5,
		  "integer out of range: '99999999999999999999999'");
	parse_err("a = 0x8000000000000000", 1, 5, "integer out of range: '0x8000000000000000'");
	parse_err("a = 0o1000000000000000000000", 1, 5,
		  "integer out of range: '0o1000000000000000000000'");
}

Test(toml, underscores)
{
	parse_err("a = 1__0", 1, 5, "'_' must be between digits: '1__0'");
	parse_err("a = 1_", 1, 5, "'_' must be between digits: '1_'");
	parse_err("a = 0x_1", 1, 5, "'_' must be between digits: '0x_1'");
	parse_err("a = -_1", 1, 5, "'_' must be between digits: '-_1'");
	parse_err("a = _1", 1, 5, "invalid value '_1' (strings need quotes)");
}

Test(toml, invalid_integers)
{
	parse_err("a = 0xg", 1, 5, "invalid integer '0xg'");
	parse_err("a = 0x", 1, 5, "invalid integer '0x'");
	parse_err("a = +0x1", 1, 5, "invalid integer '+0x1'");
	parse_err("a = -0b1", 1, 5, "invalid integer '-0b1'");
	parse_err("a = 0X1", 1, 5, "invalid integer '0X1'");
	parse_err("a = 0b102", 1, 5, "invalid integer '0b102'");
	parse_err("a = 0o8", 1, 5, "invalid integer '0o8'");
	parse_err("a = 1-2", 1, 5, "invalid integer '1-2'");
	parse_err("a = 12abc", 1, 5, "invalid integer '12abc'");
	parse_err("a = -", 1, 5, "invalid integer '-'");
	parse_err("a = +", 1, 5, "invalid integer '+'");
}

Test(toml, floats_unsupported)
{
	parse_err("a = 1.5", 1, 5, "floats are not supported");
	parse_err("a = -0.5", 1, 5, "floats are not supported");
	parse_err("a = 1e3", 1, 5, "floats are not supported");
	parse_err("a = 6.02E23", 1, 5, "floats are not supported");
	parse_err("a = inf", 1, 5, "floats are not supported");
	parse_err("a = -nan", 1, 5, "floats are not supported");
	parse_err("a = [1,\n  3.14]", 2, 3, "floats are not supported");
}

Test(toml, dates_unsupported)
{
	parse_err("a = 1979-05-27", 1, 5, "dates and times are not supported");
	parse_err("a = 1979-05-27T07:32:00Z", 1, 5, "dates and times are not supported");
	parse_err("a = 1979-05-27 07:32:00", 1, 5, "dates and times are not supported");
	parse_err("a = 07:32:00", 1, 5, "dates and times are not supported");
}

Test(toml, inline_tables_unsupported)
{
	parse_err("a = {x = 1}", 1, 5, "inline tables are not supported: use a [table]");
	parse_err("a = [{x = 1}]", 1, 6, "inline tables are not supported: use a [table]");
}

Test(toml, unquoted_strings)
{
	parse_err("kernel = bzImage", 1, 10, "invalid value 'bzImage' (strings need quotes)");
	parse_err("a = True", 1, 5, "invalid value 'True' (strings need quotes)");
	parse_err("a = /boot/vmlinuz", 1, 5, "invalid value '/boot/vmlinuz' (strings need quotes)");
	parse_err("a = =", 1, 5, "expected a value, found '='");
	parse_err("a = }", 1, 5, "expected a value, found '}'");
}

/* Errors: keys and lines */

Test(toml, duplicate_key)
{
	parse_err("a = 1\na = 2", 2, 1, "duplicate key 'a' (first defined at 1:1)");
	parse_err("a = 1\n\"a\" = 2", 2, 1, "duplicate key 'a' (first defined at 1:1)");
	parse_err("[t]\n  x = 1\n  'x' = 1", 3, 3, "duplicate key 'x' (first defined at 2:3)");
	parse_err("[a.b]\n[a]\nb = 1", 3, 1, "duplicate key 'b' (first defined at 1:4)");
	/* the same key in different tables is fine */
	toml_free(parse_ok("[t]\nx = 1\n[u]\nx = 1\n[[d]]\nx = 1\n[[d]]\nx = 1\n"));
}

Test(toml, duplicate_table)
{
	parse_err("[t]\n[t]", 2, 2, "duplicate table [t] (first defined at 1:2)");
	parse_err("[a.b]\nx = 1\n[a . b]", 3, 6, "duplicate table [a.b] (first defined at 1:4)");
	parse_err("[a.b]\n[a]\n[a]", 3, 2, "duplicate table [a] (first defined at 2:2)");
	parse_err("[t]\n[\"t\"]", 2, 2, "duplicate table [t] (first defined at 1:2)");
}

Test(toml, table_redefined_as_array_of_tables)
{
	parse_err("[t]\n[[t]]", 2, 3,
		  "table [t] redefined as an array of tables (first defined at 1:2)");
	parse_err("[a.b]\n[[a]]", 2, 3,
		  "table [a] redefined as an array of tables (first defined at 1:2)");
	parse_err("[[t]]\n[t]", 2, 2, "[t] is already an array of tables (first defined at 1:3)");
}

Test(toml, table_over_a_value)
{
	parse_err("a = 1\n[a]", 2, 2, "'a' is already a value (defined at 1:1), not a table");
	parse_err("a = 1\n[a.b]", 2, 2, "'a' is already a value (defined at 1:1), not a table");
	parse_err("[t]\nb = 1\n[t.b.c]", 3, 4,
		  "'t.b' is already a value (defined at 2:1), not a table");
	parse_err("a = [1]\n[[a]]", 2, 3, "'a' is already a value (defined at 1:1), not a table");
	parse_err("[t.x]\n[t]\nx = 1", 3, 1, "duplicate key 'x' (first defined at 1:4)");
}

Test(toml, key_without_value)
{
	parse_err("a =\nb = 1", 1, 4, "missing value for key 'a'");
	parse_err("a = # no value", 1, 5, "missing value for key 'a'");
	parse_err("a = ", 1, 5, "missing value for key 'a'");
	parse_err("a", 1, 2, "expected '=' after key 'a', found end of file");
	parse_err("a\nb = 1", 1, 2, "expected '=' after key 'a', found end of line");
	parse_err("a b = 1", 1, 3, "expected '=' after key 'a', found 'b'");
	parse_err("a$ = 1", 1, 2, "expected '=' after key 'a', found '$'");
}

Test(toml, garbage_after_value)
{
	parse_err("a = 1 x", 1, 7, "unexpected 'x' after value");
	parse_err("a = \"s\" \"t\"", 1, 9, "unexpected '\"' after value");
	parse_err("a = 1,", 1, 6, "unexpected ',' after value");
	parse_err("a = [1] ]", 1, 9, "unexpected ']' after value");
	parse_err("\ta = true false", 1, 11, "unexpected 'f' after value");
	parse_err("[t] x = 1", 1, 5, "unexpected 'x' after table header");
	parse_err("[[t]] ]", 1, 7, "unexpected ']' after table header");
}

Test(toml, dotted_keys_unsupported)
{
	parse_err("a.b = 1", 1, 1, "dotted keys are not supported: use a [table]");
	parse_err("x = 1\n  \"a\" . b = 1", 2, 3, "dotted keys are not supported: use a [table]");
}

Test(toml, control_characters)
{
	parse_err("a = \"x\x01\"", 1, 7, "control character U+0001 in string");
	parse_err("a = 'x\x1b'", 1, 7, "control character U+001B in string");
	parse_err("a = \"x\x7f\"", 1, 7, "control character U+007F in string");
	parse_err("a = \"x\ry\"", 1, 7, "control character U+000D in string");
	parse_err("# \x7f", 1, 3, "control character U+007F in comment");
	parse_err("a = 1 # ok\x08", 1, 11, "control character U+0008 in comment");
	parse_err("a = 1\rb = 2", 1, 6, "carriage return without a line feed");
	parse_err("\x01 = 1", 1, 1, "expected a key, found byte 0x01");
	parse_err("a = \x01", 1, 5, "expected a value, found byte 0x01");
}

Test(toml, empty_key)
{
	parse_err("= 1", 1, 1, "empty key");
	parse_err("\"\" = 1", 1, 1, "empty key");
	parse_err("x = 1\n  '' = 1", 2, 3, "empty key");
	parse_err("[a..b]", 1, 4, "empty key");
	parse_err("[\"\"]", 1, 2, "empty key");
}

Test(toml, bad_keys)
{
	parse_err("\xc3\xa9 = 1", 1, 1, "expected a key, found byte 0xc3");
	parse_err("[]", 1, 2, "expected a key, found ']'");
	parse_err("[a.]", 1, 4, "expected a key, found ']'");
	parse_err("[a.b.c.d.e.f.g.h.i]", 1, 18, "more than 8 dotted key parts");
	parse_err("\"\"\"a\"\"\" = 1", 1, 1, "multi-line strings are not supported");
}

Test(toml, bad_headers)
{
	parse_err("[a", 1, 3, "expected ']' to close the table header, found end of file");
	parse_err("[a\n", 1, 3, "expected ']' to close the table header, found end of line");
	parse_err("[a b]", 1, 4, "expected ']' to close the table header, found 'b'");
	parse_err("[[a]", 1, 4, "expected ']]' to close the table header, found ']'");
	parse_err("[[a] ]", 1, 4, "expected ']]' to close the table header, found ']'");
	parse_err("[ [a]]", 1, 3, "expected a key, found '['");
}

Test(toml, bad_arrays)
{
	parse_err("a = [1, 2", 1, 5, "unterminated array");
	parse_err("a = [\n  1,\n  # comment\n", 1, 5, "unterminated array");
	parse_err("x = 0\na = [[1, 2], [3", 2, 14, "unterminated array");
	parse_err("a = [1 2]", 1, 8, "expected ',' or ']' in array, found '2'");
	parse_err("a = [1,,2]", 1, 8, "expected a value, found ','");
	parse_err("a = [,]", 1, 6, "expected a value, found ','");
	parse_err("a = [1\n# c \x01\n]", 2, 5, "control character U+0001 in comment");
}

Test(toml, arrays_nested_too_deep)
{
	char text[64] = "a = ";

	memset(text + 4, '[', 40);
	parse_err(text, 1, 37, "arrays nested deeper than 32");
}

/* Robustness: every prefix and many byte flips of a full document parse or fail cleanly. */

static char *read_text(const char *path, size_t *len)
{
	uint8_t *buf;
	int ret = read_file(path, &buf, len);

	cr_assert_eq(ret, 0, "%s: %s", path, strerror(-ret));
	return (char *)buf;
}

Test(toml, truncations_and_mutations_never_crash)
{
	static const char flips[] = "\0\n\r\"'[]=,#\\x0.{\xc3\xff ";
	size_t len;
	char *text = read_text(TEST_DATA_DIR "/toml/golden/all_forms.toml", &len);
	char *copy = malloc(len);

	cr_assert_not_null(copy);
	for (size_t n = 0; n <= len; n++) {
		struct toml_table *t;

		/* exactly n bytes, in their own allocation so ASan sees any overread */
		char *p = malloc(n ? n : 1);

		memcpy(p, text, n);
		if (toml_parse(p, n, &t, NULL) == 0)
			toml_free(t);
		free(p);
	}
	for (size_t i = 0; i < len; i++) {
		for (size_t f = 0; f < sizeof(flips) - 1; f++) {
			struct toml_table *t;

			memcpy(copy, text, len);
			copy[i] = flips[f];
			if (toml_parse(copy, len, &t, NULL) == 0)
				toml_free(t);
		}
	}
	free(copy);
	free(text);
}

/* Golden: a document using every form, dumped canonically. */

static void dump_value(FILE *out, const struct toml_value *v);

static void dump_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void dump_table(FILE *out, const struct toml_table *t, int indent)
{
	for (size_t i = 0; i < t->n; i++) {
		fprintf(out, "%*s", indent * 2, "");
		dump_string(out, t->kv[i].key);
		fprintf(out, " @%d:%d = ", t->kv[i].line, t->kv[i].col);
		if (t->kv[i].val.type == TOML_TABLE) {
			fprintf(out, "table%s @%d:%d\n",
				t->kv[i].val.u.table->defined ? "" : " (implied)",
				t->kv[i].val.line, t->kv[i].val.col);
			dump_table(out, t->kv[i].val.u.table, indent + 1);
		} else if (t->kv[i].val.table_array) {
			fprintf(out, "array of %zu tables\n", t->kv[i].val.u.arr.n);
			for (size_t j = 0; j < t->kv[i].val.u.arr.n; j++) {
				fprintf(out, "%*s- @%d:%d\n", indent * 2 + 2, "",
					t->kv[i].val.u.arr.items[j].line,
					t->kv[i].val.u.arr.items[j].col);
				dump_table(out, t->kv[i].val.u.arr.items[j].u.table, indent + 2);
			}
		} else {
			dump_value(out, &t->kv[i].val);
			fputc('\n', out);
		}
	}
}

static void dump_value(FILE *out, const struct toml_value *v)
{
	switch (v->type) {
	case TOML_STRING:
		dump_string(out, v->u.str);
		break;
	case TOML_INT:
		fprintf(out, "%lld", (long long)v->u.i);
		break;
	case TOML_BOOL:
		fputs(v->u.b ? "true" : "false", out);
		break;
	case TOML_ARRAY:
		fputc('[', out);
		for (size_t i = 0; i < v->u.arr.n; i++) {
			fputs(i ? ", " : "", out);
			dump_value(out, &v->u.arr.items[i]);
		}
		fputc(']', out);
		break;
	case TOML_TABLE:
		fputs("{table}", out);
		break;
	}
	fprintf(out, " @%d:%d", v->line, v->col);
}

Test(toml, golden_all_forms)
{
	size_t len, glen, dlen;
	char *text = read_text(TEST_DATA_DIR "/toml/golden/all_forms.toml", &len);
	char *golden = read_text(TEST_DATA_DIR "/toml/golden/all_forms.golden", &glen);
	struct toml_table *t;
	struct toml_error err;
	char *dump = NULL;
	FILE *out = open_memstream(&dump, &dlen);

	cr_assert_eq(toml_parse(text, len, &t, &err), 0, "%d:%d: %s", err.line, err.col, err.msg);
	dump_table(out, t, 0);
	fclose(out);
	if (getenv("TOML_GOLDEN_WRITE"))
		fputs(dump, stderr);
	cr_assert_eq(dlen, glen, "dump differs from all_forms.golden:\n%s", dump);
	cr_assert(memcmp(dump, golden, glen) == 0, "dump differs from all_forms.golden:\n%s", dump);
	toml_free(t);
	free(dump);
	free(golden);
	free(text);
}

/* Malformed files: the first line of each says "# expect: LINE:COL: message". */
Test(toml, malformed_files)
{
	DIR *d = opendir(TEST_DATA_DIR "/toml/bad");
	struct dirent *e;
	int count = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d))) {
		char path[512], want[300], got[300];
		struct toml_table *t;
		struct toml_error err;
		size_t len;
		char *text, *nl;

		if (!strstr(e->d_name, ".toml"))
			continue;
		snprintf(path, sizeof(path), "%s/toml/bad/%s", TEST_DATA_DIR, e->d_name);
		text = read_text(path, &len);
		nl = memchr(text, '\n', len);
		cr_assert(strncmp(text, "# expect: ", 10) == 0 && nl, "%s: no expect line", path);
		if (nl > text && nl[-1] == '\r')
			nl--;
		snprintf(want, sizeof(want), "%.*s", (int)(nl - text - 10), text + 10);
		cr_assert_eq(toml_parse(text, len, &t, &err), -EINVAL, "%s parsed", path);
		snprintf(got, sizeof(got), "%d:%d: %s", err.line, err.col, err.msg);
		cr_expect_str_eq(got, want, "%s: got <%s>, want <%s>", path, got, want);
		free(text);
		count++;
	}
	closedir(d);
	cr_assert_geq(count, 5);
}
