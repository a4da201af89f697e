/* meta_notify: notices sent through the meta database to the other mounts that use it.
 * Part of the meta module; the listening side is notify.c, on a connection of its own. */
#include "config.h"

#include <errno.h>

#include "meta.h"
#include "meta_internal.h"
#include "util.h"

int meta_notify(struct meta *m, const char *channel, const char *payload, char *msg,
		size_t msglen)
{
	const char *values[] = { channel, payload };
	struct meta_q q = { .sql = "SELECT pg_notify($1, $2)", .nparams = 2, .values = values };
	int r;

	if (!m)
		return meta_none(msg, msglen);
	if (!channel || !payload) {
		util_msg(msg, msglen, "no channel or payload");
		return -EINVAL;
	}
	/* Not retried: a notice sent twice is a change told twice. */
	if ((r = meta_exec(m, false, &q, msg, msglen)) < 0)
		return r;
	PQclear(q.res);
	return 0;
}

const char *meta_conninfo(const struct meta *m)
{
	return m ? m->url : NULL;
}
