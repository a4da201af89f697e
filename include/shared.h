/* shared: immutable values handed to many request threads at once.
 *
 * A value is built by one thread, then only read; the last holder to let go frees it. The
 * count is atomic because the loop's workers take and drop references concurrently (a plain
 * counter, as json-c's is in some builds, loses an increment and frees a value in use). */
#ifndef NEONFS_SHARED_H
#define NEONFS_SHARED_H

#include <stdatomic.h>
#include <stddef.h>

struct shared {
	atomic_uint refs;
	void (*destroy)(struct shared *s);
};

/* Starts @s with one reference, held by the caller. */
void shared_init(struct shared *s, void (*destroy)(struct shared *s));

/* A new reference to @s (NULL passes through). */
struct shared *shared_get(struct shared *s);

/* Drops a reference; the last one destroys @s. NULL is ignored. */
void shared_put(struct shared *s);

/* Text that many readers share: a rendered file, a connection string. */
struct shared_text {
	struct shared base;
	size_t len;
	char text[];   /* NUL-terminated, @len bytes before the NUL */
};

/* A copy of @len bytes of @s, or NULL when out of memory. */
struct shared_text *shared_text_new(const char *s, size_t len);

#endif
