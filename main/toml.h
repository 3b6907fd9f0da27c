/*
 * A strict parser for the subset of TOML 1.0 that vm.toml needs: tables [a] and [a.b], arrays of
 * tables [[a]], bare and quoted keys, basic and literal strings, integers, booleans and arrays.
 * Floats, dates, inline tables, multi-line strings and dotted keys in `key = value` lines are
 * rejected with a "not supported" error. Every error carries a 1-based line and column.
 */
#ifndef VMM_MAIN_TOML_H
#define VMM_MAIN_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum toml_type { TOML_STRING, TOML_INT, TOML_BOOL, TOML_ARRAY, TOML_TABLE };

struct toml_table;

struct toml_array {
	struct toml_value *items;
	size_t n, cap;
};

struct toml_value {
	enum toml_type type;
	int line, col;	  /* where the value starts; a table: its name in the header */
	bool table_array; /* a TOML_ARRAY made by [[name]] headers, of TOML_TABLE items */
	union {
		char *str; /* UTF-8, NUL-terminated: \u0000 is rejected */
		int64_t i;
		bool b;
		struct toml_array arr;
		struct toml_table *table;
	} u;
};

struct toml_kv {
	char *key;
	int line, col; /* of the key */
	struct toml_value val;
};

struct toml_table {
	struct toml_kv *kv; /* in file order */
	size_t n, cap;
	bool defined; /* by its own header; false when only implied by [a.b] */
};

struct toml_error {
	int line, col;
	char msg[256];
};

/*
 * Parses text[0..len). Returns 0 and *out (free with toml_free), -EINVAL with *err set, or
 * -ENOMEM.
 */
int toml_parse(const char *text, size_t len, struct toml_table **out, struct toml_error *err);
/* The value of `key` in `t`, or NULL. */
const struct toml_value *toml_get(const struct toml_table *t, const char *key);
void toml_free(struct toml_table *t);

/* "a string", "an integer", ...: for messages. */
const char *toml_type_name(const struct toml_value *v);
/* Copies s into buf for a one-line message: control characters become '?', long text "...". */
const char *toml_printable(const char *s, char *buf, size_t len);

#endif
