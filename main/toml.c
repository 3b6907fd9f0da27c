#include "toml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define TOML_MAX_DEPTH 32    /* nested arrays: bounds the recursion */
#define TOML_MAX_KEY_PARTS 8 /* [a.b.c] */
#define TOML_SHOWN_MAX 48    /* bytes of user text quoted in a message */

struct parser {
	const char *s; /* cursor */
	const char *end;
	int line, col; /* of *s, 1-based; col counts characters, not bytes */
	struct toml_table *root;
	struct toml_table *cur; /* where `key = value` lines go */
	struct toml_error *err;
};

struct key_part {
	char *name;
	int line, col;
};

struct key_path {
	struct key_part part[TOML_MAX_KEY_PARTS];
	size_t n;
};

struct sbuf {
	char *p;
	size_t n, cap;
};

static void value_free(struct toml_value *v);

/* Lexing */

static int peek(const struct parser *ps)
{
	return ps->s < ps->end ? (unsigned char)*ps->s : -1;
}

static int peek_at(const struct parser *ps, size_t k)
{
	return (size_t)(ps->end - ps->s) > k ? (unsigned char)ps->s[k] : -1;
}

static void adv(struct parser *ps)
{
	unsigned char c = (unsigned char)*ps->s++;

	if (c == '\n') {
		ps->line++;
		ps->col = 1;
	} else if ((c & 0xc0) != 0x80) {
		/* UTF-8 continuation bytes belong to the character already counted */
		ps->col++;
	}
}

static void adv_n(struct parser *ps, size_t n)
{
	while (n--)
		adv(ps);
}

static bool at_newline(const struct parser *ps)
{
	int c = peek(ps);

	return c == '\n' || (c == '\r' && peek_at(ps, 1) == '\n');
}

static bool is_ctrl(int c)
{
	return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_bare_key(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' ||
	       c == '-';
}

static void skip_ws(struct parser *ps)
{
	while (peek(ps) == ' ' || peek(ps) == '\t')
		adv(ps);
}

/* Errors */

__attribute__((format(printf, 4, 0))) static int vfail(struct parser *ps, int line, int col,
						       const char *fmt, va_list ap)
{
	ps->err->line = line;
	ps->err->col = col;
	vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
	return -EINVAL;
}

__attribute__((format(printf, 4, 5))) static int fail_at(struct parser *ps, int line, int col,
							 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(ps, line, col, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* An error at the cursor. */
__attribute__((format(printf, 2, 3))) static int fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(ps, ps->line, ps->col, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int nomem(struct parser *ps)
{
	fail(ps, "out of memory");
	return -ENOMEM;
}

static const char *shown_char(int c, char *buf, size_t len)
{
	if (c < 0)
		return "end of file";
	if (c == '\n' || c == '\r')
		return "end of line";
	if (c > ' ' && c < 0x7f)
		snprintf(buf, len, "'%c'", c);
	else
		snprintf(buf, len, "byte 0x%02x", (unsigned int)c);
	return buf;
}

const char *toml_printable(const char *s, char *buf, size_t len)
{
	size_t i;

	if (!len)
		return "";
	for (i = 0; s[i] && i + 1 < len; i++)
		buf[i] = is_ctrl((unsigned char)s[i]) ? '?' : s[i];
	buf[i] = '\0';
	if (s[i] && len > 4)
		memcpy(buf + len - 4, "...", 4);
	return buf;
}

/* Shows w[0..n) in a message. */
static const char *shown_word(const char *w, size_t n, char *buf, size_t len)
{
	char tmp[TOML_SHOWN_MAX + 1];

	n = MIN(n, TOML_SHOWN_MAX);
	memcpy(tmp, w, n);
	tmp[n] = '\0';
	return toml_printable(tmp, buf, len);
}

/* UTF-8 */

static const struct utf8_form {
	unsigned char mask, lead;
	size_t len;
	uint32_t min;
} utf8_forms[] = {
	{0xe0, 0xc0, 2, 0x80},
	{0xf0, 0xe0, 3, 0x800},
	{0xf8, 0xf0, 4, 0x10000},
};

/* Length of the valid, shortest-form, non-surrogate sequence at s[0..n), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	const struct utf8_form *f = NULL;
	uint32_t cp;

	for (size_t i = 0; i < ARRAY_SIZE(utf8_forms); i++)
		if ((s[0] & utf8_forms[i].mask) == utf8_forms[i].lead)
			f = &utf8_forms[i];
	if (!f || f->len > n)
		return 0;
	cp = s[0] & (unsigned char)~f->mask;
	for (size_t i = 1; i < f->len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < f->min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return f->len;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Strings */

static int sbuf_add(struct parser *ps, struct sbuf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = MAX(MAX(b->cap * 2, b->n + n + 1), (size_t)16);
		char *p = realloc(b->p, cap);

		if (!p)
			return nomem(ps);
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
	return 0;
}

/*
 * Takes one character of a string or comment (`where`), checked: no newline, no control
 * character but tab, valid UTF-8. Appends it to b unless b is NULL.
 */
static int take_text(struct parser *ps, struct sbuf *b, const char *where)
{
	int c = peek(ps);
	size_t n = 1;
	int ret = 0;

	if (at_newline(ps))
		return fail(ps, "newline in %s", where);
	if (is_ctrl(c))
		return fail(ps, "control character U+%04X in %s", (unsigned int)c, where);
	if (c >= 0x80) {
		n = utf8_len((const unsigned char *)ps->s, (size_t)(ps->end - ps->s));
		if (!n)
			return fail(ps, "invalid UTF-8 in %s", where);
	}
	if (b)
		ret = sbuf_add(ps, b, ps->s, n);
	adv_n(ps, n);
	return ret;
}

static int hex_digit(int c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* \uXXXX or \UXXXXXXXX at the cursor (on the backslash). */
static int parse_unicode(struct parser *ps, struct sbuf *b)
{
	int u = peek_at(ps, 1);
	int digits = u == 'u' ? 4 : 8;
	uint32_t cp = 0;
	char out[4];

	for (int i = 0; i < digits; i++) {
		int d = hex_digit(peek_at(ps, 2 + (size_t)i));

		if (d < 0)
			return fail(ps, "invalid unicode escape: \\%c needs %d hex digits", u,
				    digits);
		cp = cp << 4 | (uint32_t)d;
	}
	if (cp >= 0xd800 && cp <= 0xdfff)
		return fail(ps, "invalid unicode escape: U+%04X is a surrogate", (unsigned int)cp);
	if (cp > 0x10ffff)
		return fail(ps, "invalid unicode escape: U+%X is beyond U+10FFFF",
			    (unsigned int)cp);
	if (cp == 0)
		return fail(ps, "unicode escape U+0000 (NUL) is not supported");
	adv_n(ps, 2 + (size_t)digits);
	return sbuf_add(ps, b, out, utf8_encode(cp, out));
}

static const struct {
	char esc, out;
} escapes[] = {
	{'b', '\b'}, {'t', '\t'}, {'n', '\n'}, {'f', '\f'}, {'r', '\r'}, {'"', '"'}, {'\\', '\\'},
};

/* An escape at the cursor (on the backslash) in the string that starts at (line, col). */
static int parse_escape(struct parser *ps, struct sbuf *b, int line, int col)
{
	int c = peek_at(ps, 1);
	char buf[16];

	if (c == 'u' || c == 'U')
		return parse_unicode(ps, b);
	for (size_t i = 0; i < ARRAY_SIZE(escapes); i++) {
		if (escapes[i].esc == c) {
			adv_n(ps, 2);
			return sbuf_add(ps, b, &escapes[i].out, 1);
		}
	}
	if (c < 0)
		return fail_at(ps, line, col, "unterminated string");
	return fail(ps, "invalid escape: '\\' followed by %s", shown_char(c, buf, sizeof(buf)));
}

/* A basic "..." or literal '...' string at the cursor. */
static int parse_string(struct parser *ps, char **out)
{
	int quote = peek(ps), line = ps->line, col = ps->col;
	struct sbuf b = {0};
	int ret = 0;

	if (peek_at(ps, 1) == quote && peek_at(ps, 2) == quote)
		return fail(ps, "multi-line strings are not supported");
	adv(ps);
	while (!ret && peek(ps) != quote) {
		if (peek(ps) < 0)
			ret = fail_at(ps, line, col, "unterminated string");
		else if (quote == '"' && peek(ps) == '\\')
			ret = parse_escape(ps, &b, line, col);
		else
			ret = take_text(ps, &b, "string");
	}
	if (!ret && !b.p)
		ret = sbuf_add(ps, &b, "", 0);
	if (ret) {
		free(b.p);
		return ret;
	}
	adv(ps);
	*out = b.p;
	return 0;
}

/* Comments, blank lines */

static int skip_comment(struct parser *ps)
{
	adv(ps);
	while (peek(ps) >= 0 && !at_newline(ps)) {
		int ret = take_text(ps, NULL, "comment");

		if (ret)
			return ret;
	}
	return 0;
}

static void take_newline(struct parser *ps)
{
	if (peek(ps) == '\r')
		adv(ps);
	adv(ps);
}

/* After a value or header: optional comment, then the end of the line or file. */
static int expect_eol(struct parser *ps, const char *what)
{
	char buf[16];
	int ret;

	skip_ws(ps);
	if (peek(ps) == '#') {
		ret = skip_comment(ps);
		if (ret)
			return ret;
	}
	if (peek(ps) < 0)
		return 0;
	if (at_newline(ps)) {
		take_newline(ps);
		return 0;
	}
	if (peek(ps) == '\r')
		return fail(ps, "carriage return without a line feed");
	return fail(ps, "unexpected %s after %s", shown_char(peek(ps), buf, sizeof(buf)), what);
}

/* Whitespace, newlines and comments inside an array. */
static int skip_blank(struct parser *ps)
{
	for (;;) {
		int ret = 0;

		skip_ws(ps);
		if (peek(ps) == '#')
			ret = skip_comment(ps);
		else if (at_newline(ps))
			take_newline(ps);
		else
			return 0;
		if (ret)
			return ret;
	}
}

/* Integers, booleans, rejected scalars */

static bool word_is(const char *w, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(w, lit, n) == 0;
}

static bool is_word(int c)
{
	return c > ' ' && c < 0x7f && !strchr(",]#[{}=\"'", c);
}

static bool looks_like_date(const char *w, size_t n)
{
	bool year = n > 4 && is_digit(w[0]) && is_digit(w[1]) && is_digit(w[2]) && is_digit(w[3]) &&
		    w[4] == '-';
	bool hms = n > 2 && is_digit(w[0]) && is_digit(w[1]) && w[2] == ':';

	return year || hms;
}

static bool looks_like_float(const char *w, size_t n)
{
	size_t i = (w[0] == '+' || w[0] == '-') ? 1 : 0;

	if (word_is(w + i, n - i, "inf") || word_is(w + i, n - i, "nan"))
		return true;
	if (i == n || !is_digit(w[i]))
		return false;
	if (n - i > 1 && w[i] == '0' && strchr("xob", w[i + 1]))
		return false;
	return memchr(w, '.', n) || memchr(w, 'e', n) || memchr(w, 'E', n);
}

static int digit_value(char c, int base)
{
	int d = hex_digit(c);

	return d < base ? d : -1;
}

/* The digits of an integer with underscores between them; limit is 2^63 - 1 or 2^63. */
static int int_digits(const char *w, size_t n, int base, uint64_t limit, uint64_t *out)
{
	bool prev_digit = false;
	uint64_t acc = 0;

	if (n == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int d = w[i] == '_' ? -1 : digit_value(w[i], base);

		if (w[i] == '_' && prev_digit && i + 1 < n) {
			prev_digit = false;
			continue;
		}
		if (d < 0)
			return w[i] == '_' ? -EDOM : -EINVAL;
		if (acc > (limit - (uint64_t)d) / (uint64_t)base)
			return -ERANGE;
		acc = acc * (uint64_t)base + (uint64_t)d;
		prev_digit = true;
	}
	*out = acc;
	return 0;
}

static int int_base(const char *w, size_t n)
{
	static const struct {
		char prefix;
		int base;
	} bases[] = {{'x', 16}, {'o', 8}, {'b', 2}};

	for (size_t i = 0; n >= 2 && w[0] == '0' && i < ARRAY_SIZE(bases); i++)
		if (w[1] == bases[i].prefix)
			return bases[i].base;
	return 10;
}

static int parse_int(struct parser *ps, struct toml_value *v, const char *w, size_t n)
{
	bool neg = w[0] == '-', sign = w[0] == '-' || w[0] == '+';
	size_t i = sign ? 1 : 0;
	int base = int_base(w + i, n - i);
	uint64_t acc = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	char buf[TOML_SHOWN_MAX + 8];
	int ret = -EINVAL;

	shown_word(w, n, buf, sizeof(buf));
	if (base == 10 && n - i > 1 && w[i] == '0' && (is_digit(w[i + 1]) || w[i + 1] == '_'))
		return fail_at(ps, v->line, v->col, "leading zeros are not allowed: '%s'", buf);
	if (base == 10 || !sign)
		ret = int_digits(w + i + (base == 10 ? 0 : 2), n - i - (base == 10 ? 0 : 2), base,
				 limit, &acc);
	if (ret == -ERANGE)
		return fail_at(ps, v->line, v->col, "integer out of range: '%s'", buf);
	if (ret == -EDOM)
		return fail_at(ps, v->line, v->col, "'_' must be between digits: '%s'", buf);
	if (ret)
		return fail_at(ps, v->line, v->col, "invalid integer '%s'", buf);
	v->type = TOML_INT;
	if (neg)
		v->u.i = acc > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)acc;
	else
		v->u.i = (int64_t)acc;
	return 0;
}

/* A value that is not a string or array: boolean, integer, or a clear rejection. */
static int parse_word(struct parser *ps, struct toml_value *v)
{
	const char *w = ps->s;
	char buf[TOML_SHOWN_MAX + 8];
	size_t n;

	while (is_word(peek(ps)))
		adv(ps);
	n = (size_t)(ps->s - w);
	if (n == 0)
		return fail(ps, "expected a value, found %s",
			    shown_char(peek(ps), buf, sizeof(buf)));
	if (word_is(w, n, "true") || word_is(w, n, "false")) {
		v->type = TOML_BOOL;
		v->u.b = w[0] == 't';
		return 0;
	}
	if (looks_like_date(w, n))
		return fail_at(ps, v->line, v->col, "dates and times are not supported");
	if (looks_like_float(w, n))
		return fail_at(ps, v->line, v->col, "floats are not supported");
	if (is_digit(w[0]) || w[0] == '+' || w[0] == '-')
		return parse_int(ps, v, w, n);
	return fail_at(ps, v->line, v->col, "invalid value '%s' (strings need quotes)",
		       shown_word(w, n, buf, sizeof(buf)));
}

/* Values */

static int parse_value(struct parser *ps, struct toml_value *v, int depth);

static int array_push(struct parser *ps, struct toml_array *a, const struct toml_value *v)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 4;
		struct toml_value *items = realloc(a->items, cap * sizeof(*items));

		if (!items)
			return nomem(ps);
		a->items = items;
		a->cap = cap;
	}
	a->items[a->n++] = *v;
	return 0;
}

static int array_item(struct parser *ps, struct toml_value *arr, int depth)
{
	struct toml_value v;
	int ret = parse_value(ps, &v, depth + 1);

	if (ret)
		return ret;
	ret = array_push(ps, &arr->u.arr, &v);
	if (ret)
		value_free(&v);
	return ret;
}

/* After an item: ',' or ']'. Returns 1 at the closing bracket. */
static int array_next(struct parser *ps, const struct toml_value *arr)
{
	char buf[16];
	int ret = skip_blank(ps);

	if (ret)
		return ret;
	if (peek(ps) == ']')
		return 1;
	if (peek(ps) == ',') {
		adv(ps);
		return 0;
	}
	if (peek(ps) < 0)
		return fail_at(ps, arr->line, arr->col, "unterminated array");
	return fail(ps, "expected ',' or ']' in array, found %s",
		    shown_char(peek(ps), buf, sizeof(buf)));
}

static int parse_array(struct parser *ps, struct toml_value *v, int depth)
{
	int ret = 0;

	v->type = TOML_ARRAY;
	if (depth >= TOML_MAX_DEPTH)
		return fail(ps, "arrays nested deeper than %d", TOML_MAX_DEPTH);
	adv(ps);
	while (ret == 0) {
		ret = skip_blank(ps);
		if (ret)
			break;
		if (peek(ps) == ']')
			ret = 1;
		else if (peek(ps) < 0)
			ret = fail_at(ps, v->line, v->col, "unterminated array");
		else
			ret = array_item(ps, v, depth);
		if (ret == 0)
			ret = array_next(ps, v);
	}
	if (ret < 0) {
		value_free(v);
		return ret;
	}
	adv(ps);
	return 0;
}

/* On error, v owns nothing. */
static int parse_value(struct parser *ps, struct toml_value *v, int depth)
{
	int c = peek(ps);

	memset(v, 0, sizeof(*v));
	v->line = ps->line;
	v->col = ps->col;
	if (c == '"' || c == '\'') {
		v->type = TOML_STRING;
		return parse_string(ps, &v->u.str);
	}
	if (c == '[')
		return parse_array(ps, v, depth);
	if (c == '{')
		return fail(ps, "inline tables are not supported: use a [table]");
	return parse_word(ps, v);
}

/* Tables */

static struct toml_kv *table_find(const struct toml_table *t, const char *key)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->kv[i].key, key) == 0)
			return &t->kv[i];
	return NULL;
}

/* Adds a copy of k's name and moves *v into t on success. */
static struct toml_kv *table_add(struct parser *ps, struct toml_table *t, const struct key_part *k,
				 const struct toml_value *v)
{
	char *key = strdup(k->name);
	struct toml_kv *kv;

	if (!key) {
		nomem(ps);
		return NULL;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;

		kv = realloc(t->kv, cap * sizeof(*kv));
		if (!kv) {
			free(key);
			nomem(ps);
			return NULL;
		}
		t->kv = kv;
		t->cap = cap;
	}
	kv = &t->kv[t->n++];
	kv->key = key;
	kv->line = k->line;
	kv->col = k->col;
	kv->val = *v;
	return kv;
}

static struct toml_table *table_new(struct parser *ps, bool defined)
{
	struct toml_table *t = calloc(1, sizeof(*t));

	if (!t)
		nomem(ps);
	else
		t->defined = defined;
	return t;
}

/* A new sub-table of `parent` named by k; stores it in *out. */
static int add_table(struct parser *ps, struct toml_table *parent, const struct key_part *k,
		     bool defined, struct toml_table **out)
{
	struct toml_value v = {.type = TOML_TABLE, .line = k->line, .col = k->col};

	v.u.table = table_new(ps, defined);
	if (!v.u.table)
		return -ENOMEM;
	if (!table_add(ps, parent, k, &v)) {
		toml_free(v.u.table);
		return -ENOMEM;
	}
	*out = v.u.table;
	return 0;
}

static void path_name(const struct key_path *kp, size_t n, char *buf, size_t len)
{
	char part[TOML_SHOWN_MAX];
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? "." : "",
					toml_printable(kp->part[i].name, part, sizeof(part)));
}

static int already_value(struct parser *ps, const struct key_path *kp, size_t i,
			 const struct toml_kv *kv)
{
	char name[TOML_SHOWN_MAX * 2];

	path_name(kp, i + 1, name, sizeof(name));
	return fail_at(ps, kp->part[i].line, kp->part[i].col,
		       "'%s' is already a value (defined at %d:%d), not a table", name, kv->line,
		       kv->col);
}

/* [a.b.c]: walks a and b, creating the missing ones, and stores in *out where c goes. */
static int walk_prefix(struct parser *ps, struct key_path *kp, struct toml_table **out)
{
	struct toml_table *t = ps->root;

	for (size_t i = 0; i + 1 < kp->n; i++) {
		struct toml_kv *kv = table_find(t, kp->part[i].name);
		int ret;

		if (!kv) {
			ret = add_table(ps, t, &kp->part[i], false, &t);
			if (ret)
				return ret;
		} else if (kv->val.type == TOML_TABLE) {
			t = kv->val.u.table;
		} else if (kv->val.table_array) {
			/* [[disk]] then [disk.x]: x belongs to the last disk */
			t = kv->val.u.arr.items[kv->val.u.arr.n - 1].u.table;
		} else {
			return already_value(ps, kp, i, kv);
		}
	}
	*out = t;
	return 0;
}

static int define_table(struct parser *ps, struct toml_table *parent, struct key_path *kp)
{
	struct key_part *k = &kp->part[kp->n - 1];
	struct toml_kv *kv = table_find(parent, k->name);
	char name[TOML_SHOWN_MAX * 2];

	path_name(kp, kp->n, name, sizeof(name));
	if (!kv)
		return add_table(ps, parent, k, true, &ps->cur);
	if (kv->val.type == TOML_TABLE && !kv->val.u.table->defined) {
		/* implied by an earlier [a.b]; this is its own header */
		kv->val.u.table->defined = true;
		kv->line = kv->val.line = k->line;
		kv->col = kv->val.col = k->col;
		ps->cur = kv->val.u.table;
		return 0;
	}
	if (kv->val.type == TOML_TABLE)
		return fail_at(ps, k->line, k->col, "duplicate table [%s] (first defined at %d:%d)",
			       name, kv->line, kv->col);
	if (kv->val.table_array)
		return fail_at(ps, k->line, k->col,
			       "[%s] is already an array of tables (first defined at %d:%d)", name,
			       kv->line, kv->col);
	return already_value(ps, kp, kp->n - 1, kv);
}

static int define_table_array(struct parser *ps, struct toml_table *parent, struct key_path *kp)
{
	struct key_part *k = &kp->part[kp->n - 1];
	struct toml_kv *kv = table_find(parent, k->name);
	struct toml_value arr = {.type = TOML_ARRAY, .line = k->line, .col = k->col};
	struct toml_value elem = {.type = TOML_TABLE, .line = k->line, .col = k->col};
	char name[TOML_SHOWN_MAX * 2];
	int ret;

	path_name(kp, kp->n, name, sizeof(name));
	arr.table_array = true;
	if (kv && kv->val.type == TOML_TABLE)
		return fail_at(
		    ps, k->line, k->col,
		    "table [%s] redefined as an array of tables (first defined at %d:%d)", name,
		    kv->line, kv->col);
	if (kv && !kv->val.table_array)
		return already_value(ps, kp, kp->n - 1, kv);
	if (!kv) {
		kv = table_add(ps, parent, k, &arr);
		if (!kv)
			return -ENOMEM;
	}
	elem.u.table = table_new(ps, true);
	if (!elem.u.table)
		return -ENOMEM;
	ret = array_push(ps, &kv->val.u.arr, &elem);
	if (ret) {
		toml_free(elem.u.table);
		return ret;
	}
	ps->cur = elem.u.table;
	return 0;
}

/* Keys */

static int parse_key_part(struct parser *ps, struct key_part *kp)
{
	int c = peek(ps);
	const char *start = ps->s;
	char buf[16];
	int ret;

	kp->line = ps->line;
	kp->col = ps->col;
	if (c == '"' || c == '\'') {
		ret = parse_string(ps, &kp->name);
		if (ret == 0 && kp->name[0] == '\0')
			ret = fail_at(ps, kp->line, kp->col, "empty key");
		return ret;
	}
	if (c == '=' || c == '.')
		return fail(ps, "empty key");
	if (!is_bare_key(c))
		return fail(ps, "expected a key, found %s", shown_char(c, buf, sizeof(buf)));
	while (is_bare_key(peek(ps)))
		adv(ps);
	kp->name = strndup(start, (size_t)(ps->s - start));
	return kp->name ? 0 : nomem(ps);
}

/* a, a.b, "a b".'c': on error, the caller still frees kp. */
static int parse_key_path(struct parser *ps, struct key_path *kp)
{
	memset(kp, 0, sizeof(*kp));
	for (;;) {
		int ret;

		if (kp->n == TOML_MAX_KEY_PARTS)
			return fail(ps, "more than %d dotted key parts", TOML_MAX_KEY_PARTS);
		ret = parse_key_part(ps, &kp->part[kp->n++]);
		if (ret)
			return ret;
		skip_ws(ps);
		if (peek(ps) != '.')
			return 0;
		adv(ps);
		skip_ws(ps);
	}
}

static void key_path_free(struct key_path *kp)
{
	for (size_t i = 0; i < kp->n; i++)
		free(kp->part[i].name);
	kp->n = 0;
}

/* Lines */

static int expect_close(struct parser *ps, bool array)
{
	char buf[16];

	if (peek(ps) == ']' && (!array || peek_at(ps, 1) == ']')) {
		adv_n(ps, array ? 2 : 1);
		return 0;
	}
	return fail(ps, "expected '%s' to close the table header, found %s", array ? "]]" : "]",
		    shown_char(peek(ps), buf, sizeof(buf)));
}

static int parse_header(struct parser *ps)
{
	bool array = peek_at(ps, 1) == '[';
	struct toml_table *parent = NULL;
	struct key_path kp;
	int ret;

	adv_n(ps, array ? 2 : 1);
	skip_ws(ps);
	ret = parse_key_path(ps, &kp);
	if (ret == 0)
		ret = expect_close(ps, array);
	if (ret == 0)
		ret = walk_prefix(ps, &kp, &parent);
	if (ret == 0 && array)
		ret = define_table_array(ps, parent, &kp);
	else if (ret == 0)
		ret = define_table(ps, parent, &kp);
	key_path_free(&kp);
	return ret;
}

static int expect_equals(struct parser *ps, const struct key_part *k)
{
	char key[TOML_SHOWN_MAX], buf[16];
	int c;

	toml_printable(k->name, key, sizeof(key));
	skip_ws(ps);
	if (peek(ps) != '=')
		return fail(ps, "expected '=' after key '%s', found %s", key,
			    shown_char(peek(ps), buf, sizeof(buf)));
	adv(ps);
	skip_ws(ps);
	c = peek(ps);
	if (c < 0 || c == '#' || c == '\n' || c == '\r')
		return fail(ps, "missing value for key '%s'", key);
	return 0;
}

static int parse_keyval(struct parser *ps)
{
	struct toml_value v;
	struct key_path kp;
	struct toml_kv *kv;
	char key[TOML_SHOWN_MAX];
	int ret;

	ret = parse_key_path(ps, &kp);
	if (ret)
		goto out;
	if (kp.n > 1) {
		ret = fail_at(ps, kp.part[0].line, kp.part[0].col,
			      "dotted keys are not supported: use a [table]");
		goto out;
	}
	kv = table_find(ps->cur, kp.part[0].name);
	if (kv) {
		ret = fail_at(ps, kp.part[0].line, kp.part[0].col,
			      "duplicate key '%s' (first defined at %d:%d)",
			      toml_printable(kv->key, key, sizeof(key)), kv->line, kv->col);
		goto out;
	}
	ret = expect_equals(ps, &kp.part[0]);
	if (ret == 0)
		ret = parse_value(ps, &v, 0);
	if (ret == 0 && !table_add(ps, ps->cur, &kp.part[0], &v)) {
		value_free(&v);
		ret = -ENOMEM;
	}
out:
	key_path_free(&kp);
	return ret;
}

static int parse_line(struct parser *ps)
{
	int c, ret = 0;

	skip_ws(ps);
	c = peek(ps);
	if (c == '[')
		ret = parse_header(ps);
	else if (c >= 0 && c != '#' && c != '\n' && c != '\r')
		ret = parse_keyval(ps);
	if (ret)
		return ret;
	return expect_eol(ps, c == '[' ? "table header" : "value");
}

/* API */

int toml_parse(const char *text, size_t len, struct toml_table **out, struct toml_error *err)
{
	struct toml_error ignored;
	struct parser ps = {.line = 1, .col = 1, .err = err ? err : &ignored};
	int ret = 0;

	*out = NULL;
	memset(ps.err, 0, sizeof(*ps.err));
	if (!text)
		text = "";
	ps.s = text;
	ps.end = text + len;
	ps.root = table_new(&ps, true);
	if (!ps.root)
		return -ENOMEM;
	ps.cur = ps.root;
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		ps.s += 3; /* a UTF-8 byte order mark, as some editors write */
	while (ret == 0 && ps.s < ps.end)
		ret = parse_line(&ps);
	if (ret) {
		toml_free(ps.root);
		return ret;
	}
	*out = ps.root;
	return 0;
}

const struct toml_value *toml_get(const struct toml_table *t, const char *key)
{
	const struct toml_kv *kv = t ? table_find(t, key) : NULL;

	return kv ? &kv->val : NULL;
}

static void value_free(struct toml_value *v)
{
	if (v->type == TOML_STRING) {
		free(v->u.str);
	} else if (v->type == TOML_ARRAY) {
		for (size_t i = 0; i < v->u.arr.n; i++)
			value_free(&v->u.arr.items[i]);
		free(v->u.arr.items);
	} else if (v->type == TOML_TABLE) {
		toml_free(v->u.table);
	}
	memset(&v->u, 0, sizeof(v->u));
}

void toml_free(struct toml_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->kv[i].key);
		value_free(&t->kv[i].val);
	}
	free(t->kv);
	free(t);
}

const char *toml_type_name(const struct toml_value *v)
{
	static const char *const names[] = {
		[TOML_STRING] = "a string", [TOML_INT] = "an integer", [TOML_BOOL] = "a boolean",
		[TOML_ARRAY] = "an array", [TOML_TABLE] = "a table",
	};

	if (v->table_array)
		return "an array of tables";
	return names[v->type];
}
