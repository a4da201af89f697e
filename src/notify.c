/* notify: notices between the mounts of one meta database (LISTEN/NOTIFY).
 *
 * A notice is a struct model_notice; the model writes and reads its text
 * (model_notice.c). They are heard on the mount's one connection (notify_hub.c), which
 * hands each to the project of its channel. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "log.h"
#include "meta.h"
#include "model.h"
#include "names.h"
#include "notify.h"
#include "notify_hub.h"
#include "project.h"
#include "util.h"
#include "watcher.h"

#define NOTIFY_PAYLOAD_MAX	8000	/* Postgres refuses a longer payload */

struct notify {
	struct project *p;
	struct meta *meta;
	struct watcher *watcher;
	struct events *events;
	struct watcher_notify tell;
	void *data;
	char channel[64];         /* a Postgres name: at most 63 bytes */
	struct notify_hub *hub;
	struct notify_hub_entry *entry;   /* listened to (notify_start) */
};

static const struct {
	const char *name;
	unsigned bit;
} notify_caches[] = {
	{ "snapshots", PROJECT_SNAPSHOTS },
	{ "branches", PROJECT_BRANCHES },
	{ "endpoints", PROJECT_ENDPOINTS },
	{ "records", PROJECT_RECORDS },
	{ "files", PROJECT_FILES },
};

struct notify *notify_new(struct notify_hub *hub, struct project *p, struct meta *meta,
			  struct watcher *w, struct events *ev, const struct watcher_notify *tell,
			  void *data)
{
	struct notify *n;

	if (!hub || !meta || !meta_conninfo(meta))
		return NULL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->p = p;
	n->meta = meta;
	n->watcher = w;
	n->events = ev;
	n->tell = *tell;
	n->data = data;
	n->hub = hub;
	snprintf(n->channel, sizeof(n->channel), "neonfs.%s", project_id(p));
	return n;
}

void notify_free(struct notify *n)
{
	if (!n)
		return;
	notify_stop(n);
	free(n);
}

/* ---- sending ---- */

void notify_send(struct notify *n, const struct notify_change *c)
{
	struct model_notice m = {
		.version = MODEL_NOTICE_VERSION, .mount = n ? notify_hub_mount(n->hub) : NULL,
		.event = c->event, .attachments_of = c->attachments_of, .pending = c->pending,
	};
	char msg[512] = "", *text;
	size_t i, k = 0, len;

	/* The meta database did not answer the last try: a notice would wait for it, and
	 * the others find the change by polling. */
	if (!n || notify_hub_away(n->hub))
		return;
	m.project = project_id(n->p);
	for (i = 0; c->fields && i + 1 < MODEL_NOTICE_FIELDS && c->fields[i]; i += 2) {
		m.fields[i] = c->fields[i];
		m.fields[i + 1] = c->fields[i + 1];
	}
	for (i = 0; i < sizeof(notify_caches) / sizeof(notify_caches[0]); i++)
		if (c->forget & notify_caches[i].bit)
			m.stale[k++] = notify_caches[i].name;
	if (c->seen_id && (c->seen || c->seen_expiry)) {
		m.kind = c->seen == 2 ? MODEL_BRANCHES : MODEL_SNAPSHOTS;
		m.id = c->seen_id;
		m.seen = c->seen != 0;
		m.name = c->seen ? c->seen_name : NULL;
		m.has_expiry = c->seen_expiry;
		m.expires = c->expires;
		m.object = c->object;
	}
	text = model_notice_write(&m, NOTIFY_PAYLOAD_MAX, &len);
	if (!text && len)
		log_warn("notice of %s not sent: %zu bytes is too long a notice",
			 c->event ? c->event : "a change", len);
	else if (!text)
		log_warn("notice of %s not sent: out of memory", c->event ? c->event : "a change");
	else if (meta_notify(n->meta, n->channel, text, msg, sizeof(msg)) != 0)
		log_warn("other mounts not told of %s (they find it by polling): %s",
			 c->event ? c->event : "a change", msg);
	free(text);
}

/* ---- hearing ---- */

static unsigned notify_stale_bits(const struct model_notice *m)
{
	unsigned bits = 0;
	size_t i, j;

	for (i = 0; i < MODEL_NOTICE_STALE && m->stale[i]; i++)
		for (j = 0; j < sizeof(notify_caches) / sizeof(notify_caches[0]); j++)
			if (strcmp(m->stale[i], notify_caches[j].name) == 0)
				bits |= notify_caches[j].bit;
	return bits;
}

/* The value of the events line's field @key, or NULL. */
static const char *notify_field(const struct model_notice *m, const char *key)
{
	size_t i;

	for (i = 0; i + 1 < MODEL_NOTICE_FIELDS && m->fields[i]; i += 2)
		if (strcmp(m->fields[i], key) == 0)
			return m->fields[i + 1];
	return NULL;
}

/* A restore another mount made: the active branch's name is on another branch now. Its
 * caches go, and the branches are seen afresh (one listing, kept for the next ls). Returns
 * true when no poll reported it first. */
static bool notify_restored(struct notify *n, const struct model_notice *m, bool finished)
{
	const char *after = notify_field(m, "branch_id");
	const char *before = notify_field(m, "branch_id_before");
	struct model_list *l = NULL;
	bool news = !(after && watcher_knows(n->watcher, false, after));

	project_forget(n->p, PROJECT_ALL);
	if (before)
		project_forget_uri(n->p, before);
	if (after)
		project_forget_uri(n->p, after);
	if (finished && project_branches(n->p, &l) == 0) {
		watcher_seen_branches(n->watcher, l);
		model_list_put(l);
	}
	return news;
}

static void notify_emit(struct notify *n, const struct model_notice *m)
{
	const char *const *f = m->fields;

	events_emit(n->events, m->event, false, f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7],
		    NULL);
}

static void notify_apply(struct notify *n, const struct model_notice *m)
{
	const char *event = m->event, *id = m->id, *name = m->name;
	bool about = m->kind != 0 && id, news = true, snapshot = m->kind != MODEL_BRANCHES;
	char entry[NAMES_MAX + 1] = "", old_entry[NAMES_MAX + 1] = "";
	unsigned forget = notify_stale_bits(m);

	/* What polls see while this is applied is not a change made elsewhere. */
	watcher_local_begin(n->watcher);
	if (about && (m->seen || m->object)) {
		if (m->seen) {
			if (name)
				snprintf(entry, sizeof(entry), "%s", names_entry(name, id));
			news = watcher_learn(n->watcher, snapshot, id, name, name ? entry : NULL,
					     old_entry, sizeof(old_entry));
		}
		project_patch(n->p, snapshot, id, m->object, m->seen ? name : NULL);
		forget &= ~(unsigned)(snapshot ? PROJECT_SNAPSHOTS : PROJECT_BRANCHES);
	}
	if (about && m->has_expiry)
		watcher_seen_expiry(n->watcher, id, m->expires);
	if (forget)
		project_forget(n->p, forget);
	if (m->attachments_of)
		project_forget_attachments(n->p, m->attachments_of);
	if (m->pending)
		project_forget_attachments(n->p, META_PENDING);
	if (event && strncmp(event, "restore.", 8) == 0)
		news = notify_restored(n, m, strcmp(event, "restore.finished") == 0);
	watcher_local_end(n->watcher);

	/* The kernel is told as the watcher tells it, and with no lock held. */
	if (news && m->seen && about) {
		if (!name && old_entry[0]) {
			n->tell.gone(n->data, snapshot, id, old_entry);
		} else if (name) {
			if (old_entry[0] && strcmp(old_entry, entry) != 0)
				n->tell.entry(n->data, snapshot, old_entry);
			n->tell.entry(n->data, snapshot, entry);
		}
	}
	if (news && event && strcmp(event, "restore.finished") == 0)
		n->tell.active(n->data);
	if (news && event)
		notify_emit(n, m);
	log_debug("notice from %s: %s%s", m->mount, event ? event : "a change",
		  news ? "" : " (seen already)");
}

static void notify_receive(struct notify *n, const char *payload)
{
	struct model_notice *m = model_notice_parse(payload);

	/* Another version's notice is not guessed at: its change shows by polling. */
	if (!m || m->version != MODEL_NOTICE_VERSION)
		log_debug("a notice not understood was ignored");
	else if (strcmp(m->mount, notify_hub_mount(n->hub)) != 0 &&
		 strcmp(m->project, project_id(n->p)) == 0)
		notify_apply(n, m);
	model_notice_free(m);
}

/* ---- joining the mount's hub ---- */

static void notify_hear(void *data, const char *payload)
{
	notify_receive(data, payload);
}

static void notify_missed(void *data)
{
	struct notify *n = data;

	project_forget(n->p, PROJECT_ALL);
}

static bool notify_wanted(void *data)
{
	struct notify *n = data;

	return watcher_wanted(n->watcher);
}

int notify_start(struct notify *n)
{
	const struct notify_hub_client c = {
		.hear = notify_hear, .missed = notify_missed, .wanted = notify_wanted, .data = n,
	};

	if (!n || n->entry)
		return 0;
	n->entry = notify_hub_join(n->hub, n->channel, &c);
	return n->entry ? 0 : -ENOMEM;
}

void notify_stop(struct notify *n)
{
	if (!n || !n->entry)
		return;
	notify_hub_leave(n->hub, n->entry);
	n->entry = NULL;
}
