/* shared: reference-counted values that many request threads read at once. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "shared.h"

void shared_init(struct shared *s, void (*destroy)(struct shared *s))
{
	atomic_init(&s->refs, 1);
	s->destroy = destroy;
}

struct shared *shared_get(struct shared *s)
{
	if (s)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_acq_rel);
	return s;
}

void shared_put(struct shared *s)
{
	/* acq_rel: the last holder must see every other holder's reads finished before it
	 * frees the value. */
	if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1 && s->destroy)
		s->destroy(s);
}

static void shared_text_destroy(struct shared *s)
{
	free(s);
}

struct shared_text *shared_text_new(const char *s, size_t len)
{
	struct shared_text *t = malloc(sizeof(*t) + len + 1);

	if (!t)
		return NULL;
	shared_init(&t->base, shared_text_destroy);
	t->len = len;
	if (len)
		memcpy(t->text, s, len);
	t->text[len] = '\0';
	return t;
}
