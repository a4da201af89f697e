/* names: what a snapshot or branch may be called, and how it shows in the tree. */
#ifndef NEONFS_NAMES_H
#define NEONFS_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define NAMES_MAX 256   /* Neon's limit for branch names; we hold snapshot names to it too */

/* Would Neon accept @name? 1..256 bytes, valid UTF-8, no control characters. */
bool names_valid_remote(const char *name);

/* Can @name stand as a directory entry? Non-empty, not "." or "..", no '/', <= 255 bytes. */
bool names_valid_entry(const char *name);

/* The entry an object is listed under: its name, or its id when the name can't be an entry. */
const char *names_entry(const char *name, const char *id);

/* Reads what was written to a control file such as active/restore: one line of printable
 * characters, a trailing newline allowed, at most NAMES_MAX bytes. Copies the value without
 * the newline into @out. Returns 0, or -EINVAL when empty, several lines, too long, or with
 * non-printable bytes. */
int names_parse_line(const char *buf, size_t len, char *out, size_t outlen);

#endif
