/* jsontext.h: checks that a text is one valid JSON value, without building
 * anything: for JSON the daemon passes through as text (the stored session
 * data copied into answers) instead of parsing it into a tree only to print
 * it again; and, in a text a parser has accepted, where a member's value
 * is, so that value can be kept as text. Pure; no allocation. */
#ifndef SESSIOND_JSONTEXT_H
#define SESSIOND_JSONTEXT_H

#include <stdbool.h>
#include <stddef.h>

#define JSONTEXT_MAX_DEPTH 2048 /* jansson's own parser limit */

/* True if p[0..n) is exactly one JSON object (RFC 8259), optionally
 * surrounded by whitespace: valid UTF-8, no raw control characters in
 * strings, escapes well formed (a \u high surrogate followed by a low one;
 * \u0000 is allowed, as JSON.stringify writes it), numbers in JSON's
 * grammar, arrays and objects nested at most max_depth levels (the object
 * itself is level 1). Duplicate member names are allowed (JSON.parse
 * keeps the last). */
bool jsontext_object_valid(const char *p, size_t n, int max_depth);

enum jsontext_found {
	JSONTEXT_FOUND,	 /* *off and *len give the value's bytes */
	JSONTEXT_ABSENT, /* no top-level member is named so */
	JSONTEXT_UNSURE, /* not found, but a top-level name is written with
			    escapes and might spell it */
};

/* For a text already known to be one valid JSON object without duplicate
 * member names (a strict parser accepted it; nothing here checks again):
 * where the value of its top-level member `name` is. Names are compared as
 * written, byte for byte, hence JSONTEXT_UNSURE. */
enum jsontext_found jsontext_member(const char *p, size_t n, const char *name, size_t *off,
				    size_t *len);

/* Copies the valid JSON text p[0..n) to out (room for n bytes) without the
 * whitespace between its tokens, the way a compact printer spaces it;
 * strings are copied as written. Returns the bytes written. */
size_t jsontext_compact(const char *p, size_t n, char *out);

#endif
