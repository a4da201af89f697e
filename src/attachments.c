/* attachments: files kept with a checkpoint in the meta database, changed through the
 * mount with the same side effects as every other action. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actions_internal.h"
#include "api.h"
#include "errmap.h"
#include "log.h"
#include "meta.h"
#include "model.h"
#include "names.h"
#include "neon.h"
#include "pg.h"
#include "project.h"
#include "schema.h"
#include "watcher.h"

/* Where the files of @snapshot_id are, for a log line. */
static const char *attachment_where(const char *snapshot_id, char *buf, size_t len)
{
	if (!*snapshot_id)
		return "active/next/";
	snprintf(buf, len, "snapshot %s", snapshot_id);
	return buf;
}

/* Without a meta database: what errmap's table says this action means, logged. */
static int attachment_no_meta(enum errmap_action action, const char *snapshot_id,
			      const char *name)
{
	char where[96];
	const char *why;
	int err = errmap_local(action, ERRMAP_NO_META, &why);

	if (err)
		log_err("%s in %s: %s", name, attachment_where(snapshot_id, where, sizeof(where)),
			why);
	return -err;
}

int action_attachment_create(struct actions *a, const char *snapshot_id, const char *name,
			     bool exclusive)
{
	char msg[512] = "", where[96];
	int res;

	if (!project_meta(a->p))
		return attachment_no_meta(ERRMAP_ATTACHMENT_CREATE, snapshot_id, name);
	res = meta_attachment_create(project_meta(a->p), snapshot_id, name, msg, sizeof(msg));
	if (res == -EEXIST && !exclusive)
		res = 0;    /* made meanwhile, by another mount: opened, not replaced */
	if (res)
		log_err("create %s in %s: %s", name,
			attachment_where(snapshot_id, where, sizeof(where)), msg);
	action_done(a, &(struct change){ .attachments_of = snapshot_id });
	return res;
}

int action_attachment_store(struct actions *a, const char *snapshot_id, const char *name,
			    const char *data, size_t len)
{
	char msg[512] = "", where[96];
	int res;

	if (len > a->cfg.attachment_max) {
		log_err("attachment %s: %zu bytes is over the limit of %zu (-o attachment_max=)",
			name, len, a->cfg.attachment_max);
		return -EFBIG;
	}
	if (!project_meta(a->p))
		return attachment_no_meta(ERRMAP_ATTACHMENT_WRITE, snapshot_id, name);
	res = meta_attachment_put(project_meta(a->p), snapshot_id, name, data ? data : "", len,
				  msg, sizeof(msg));
	if (res) {
		log_err("%s in %s not stored: %s", name,
			attachment_where(snapshot_id, where, sizeof(where)), msg);
		return res;
	}
	action_done(a, &(struct change){ .attachments_of = snapshot_id });
	return 0;
}

int action_attachment_delete(struct actions *a, const char *snapshot_id, const char *name)
{
	char msg[512] = "";
	int res;

	if (!project_meta(a->p))
		return attachment_no_meta(ERRMAP_ATTACHMENT_DELETE, snapshot_id, name);
	res = meta_attachment_delete(project_meta(a->p), snapshot_id, name, msg, sizeof(msg));
	if (res)
		log_err("rm %s: %s", name, msg);
	action_done(a, &(struct change){ .attachments_of = snapshot_id });
	return res;
}

int action_attachment_rename(struct actions *a, const char *snapshot_id, const char *from,
			     const char *to, bool noreplace)
{
	char msg[512] = "";
	int res;

	if (!project_meta(a->p))
		return attachment_no_meta(ERRMAP_ATTACHMENT_RENAME, snapshot_id, from);
	res = meta_attachment_rename(project_meta(a->p), snapshot_id, from, to, noreplace, msg,
				     sizeof(msg));
	if (res)
		log_err("mv %s %s: %s", from, to, msg);
	action_done(a, &(struct change){ .attachments_of = snapshot_id });
	return res;
}
