/* notify: notices between the mounts of one meta database (LISTEN/NOTIFY).
 *
 * A notice is a struct model_notice; the model writes and reads its text
 * (model_notice.c). The listener runs on its own thread with a connection of its own: it
 * waits in poll() on the connection's socket and a pipe that wakes it to stop. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <libpq-fe.h>

#include "api.h"
#include "events.h"
#include "log.h"
#include "meta.h"
#include "model.h"
#include "names.h"
#include "notify.h"
#include "project.h"
#include "util.h"
#include "watcher.h"

#define NOTIFY_PAYLOAD_MAX	8000	/* Postgres refuses a longer payload */
#define NOTIFY_CONNECT_S	5.0
#define NOTIFY_RETRY_MIN_S	0.5
#define NOTIFY_RETRY_MAX_S	5.0
#define NOTIFY_IDLE_CHECK_S	1.0	/* a local check: is the mount in use again? */

struct notify {
	struct project *p;
	struct meta *meta;
	struct watcher *watcher;
	struct events *events;
	struct watcher_notify tell;
	void *data;
	char channel[64];         /* a Postgres name: at most 63 bytes */
	char mount[128];          /* who sent a notice: our own are ignored */
	int wake[2];
	PGconn *first;            /* connected by notify_start, handed to the thread */
	pthread_t thread;
	bool running;
	/* The meta database did not answer the listener's last try: notices are not sent
	 * (each would wait for it), and the others find the changes by polling. */
	atomic_bool away;
	atomic_bool stopping;
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

struct notify *notify_new(struct project *p, struct meta *meta, struct watcher *w,
			  struct events *ev, const struct watcher_notify *tell, void *data)
{
	struct notify *n;
	uint64_t r = 0;
	char host[256] = "";

	if (!meta || !meta_conninfo(meta))
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
	n->wake[0] = n->wake[1] = -1;
	atomic_init(&n->away, false);
	atomic_init(&n->stopping, false);
	snprintf(n->channel, sizeof(n->channel), "neonfs.%s", project_id(p));
	/* pid and host say who it was in a log; the random part tells apart two mounts that a
	 * restarted host gave the same pid. */
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (uint64_t)util_now() ^ ((uint64_t)getpid() << 32);
	gethostname(host, sizeof(host) - 1);
	snprintf(n->mount, sizeof(n->mount), "pid %ld on %s/%016" PRIx64, (long)getpid(), host,
		 r);
	if (pipe2(n->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		free(n);
		return NULL;
	}
	return n;
}

void notify_free(struct notify *n)
{
	if (!n)
		return;
	notify_stop(n);
	if (n->first)
		PQfinish(n->first);
	close(n->wake[0]);
	close(n->wake[1]);
	free(n);
}

/* ---- sending ---- */

void notify_send(struct notify *n, const struct notify_change *c)
{
	struct model_notice m = {
		.version = MODEL_NOTICE_VERSION, .mount = n ? n->mount : NULL,
		.event = c->event, .attachments_of = c->attachments_of, .pending = c->pending,
	};
	char msg[512] = "", *text;
	size_t i, k = 0, len;

	if (!n || atomic_load(&n->away))
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
	else if (strcmp(m->mount, n->mount) != 0 && strcmp(m->project, project_id(n->p)) == 0)
		notify_apply(n, m);
	model_notice_free(m);
}

/* ---- the listener's connection ---- */

/* Waits until @fd (-1: none) is ready for @events or @timeout_s (< 0: no end) passes.
 * 1: ready; 0: timed out; -1: woken to stop. */
static int notify_wait(struct notify *n, int fd, short events, double timeout_s)
{
	struct pollfd p[2] = { { n->wake[0], POLLIN, 0 }, { fd, events, 0 } };
	int ms = timeout_s < 0 ? -1 : (int)(timeout_s * 1000.0) + 1;
	int r;

	for (;;) {
		if (atomic_load(&n->stopping))
			return -1;
		r = poll(p, fd >= 0 ? 2 : 1, ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (atomic_load(&n->stopping) || (r > 0 && p[0].revents))
			return -1;
		return r > 0 ? 1 : 0;
	}
}

static void notify_error(PGconn *c, char *msg, size_t len)
{
	const char *e = c ? PQerrorMessage(c) : "out of memory";
	size_t l;

	snprintf(msg, len, "%s", e && *e ? e : "the connection was lost");
	l = strlen(msg);
	while (l && (msg[l - 1] == '\n' || msg[l - 1] == ' '))
		msg[--l] = '\0';
}

/* Connects and LISTENs, within NOTIFY_CONNECT_S. NULL with words in @msg. */
static PGconn *notify_connect(struct notify *n, char *msg, size_t len)
{
	/* Keepalives: a server gone without a word (a network that drops) is found within
	 * half a minute, as a lost connection. */
	const char *keys[] = { "dbname", "application_name", "keepalives", "keepalives_idle",
			       "keepalives_interval", "keepalives_count", NULL };
	const char *vals[] = { meta_conninfo(n->meta), "neonfs notices", "1", "10", "5", "3",
			       NULL };
	double deadline = util_now() + NOTIFY_CONNECT_S;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	PGconn *c = PQconnectStartParams(keys, vals, 1);
	PGresult *res;
	char *ident, sql[160];
	bool listening = false;
	int r;

	if (!c || PQstatus(c) == CONNECTION_BAD)
		goto fail;
	while (st != PGRES_POLLING_OK) {
		if (st == PGRES_POLLING_FAILED)
			goto fail;
		r = notify_wait(n, PQsocket(c), st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
				deadline - util_now());
		if (r <= 0)
			goto timeout;
		st = PQconnectPoll(c);
	}
	ident = PQescapeIdentifier(c, n->channel, strlen(n->channel));
	if (!ident)
		goto fail;
	snprintf(sql, sizeof(sql), "LISTEN %s", ident);
	PQfreemem(ident);
	if (!PQsendQuery(c, sql))
		goto fail;
	for (;;) {
		while (!PQisBusy(c)) {
			res = PQgetResult(c);
			if (!res) {
				if (listening)
					return c;
				goto fail;
			}
			if (PQresultStatus(res) == PGRES_COMMAND_OK) {
				listening = true;
			} else {
				PQclear(res);
				goto fail;
			}
			PQclear(res);
		}
		r = notify_wait(n, PQsocket(c), POLLIN, deadline - util_now());
		if (r <= 0)
			goto timeout;
		if (!PQconsumeInput(c))
			goto fail;
	}
timeout:
	snprintf(msg, len, "%s", atomic_load(&n->stopping) ? "the mount is stopping" :
		 "no answer within the connect timeout");
	PQfinish(c);
	return NULL;
fail:
	notify_error(c, msg, len);
	PQfinish(c);
	return NULL;
}

/* Hears notices until the connection is lost (-EIO, words in @msg) or the mount stops (0). */
static int notify_hear(struct notify *n, PGconn *c, char *msg, size_t len)
{
	PGnotify *nt;
	PGresult *res;

	for (;;) {
		int sock = PQsocket(c);

		if (sock < 0 || PQstatus(c) != CONNECTION_OK) {
			notify_error(c, msg, len);
			return -EIO;
		}
		if (notify_wait(n, sock, POLLIN, -1) < 0)
			return 0;
		if (!PQconsumeInput(c)) {
			notify_error(c, msg, len);
			return -EIO;
		}
		while ((nt = PQnotifies(c)) != NULL) {
			notify_receive(n, nt->extra);
			PQfreemem(nt);
		}
		/* Nothing is asked on this connection; an error the server sent (it is
		 * shutting down, or ended the session) comes as a result. */
		while (!PQisBusy(c) && (res = PQgetResult(c)) != NULL)
			PQclear(res);
	}
}

static void *notify_run(void *data)
{
	struct notify *n = data;
	double retry = NOTIFY_RETRY_MIN_S;
	bool lost = false;
	char msg[512];
	PGconn *c = n->first;

	n->first = NULL;
	/* The listing a restore notice needs is what the budget sheds first. */
	api_set_background(true);
	while (!atomic_load(&n->stopping)) {
		if (!c && !watcher_wanted(n->watcher)) {
			/* Idle is free: a meta database on Neon closes idle sessions when its
			 * compute suspends, and connecting again would wake it. The next use
			 * of the mount connects, and reads its listings afresh. */
			if (notify_wait(n, -1, 0, NOTIFY_IDLE_CHECK_S) < 0)
				break;
			continue;
		}
		if (!c)
			c = notify_connect(n, msg, sizeof(msg));
		if (!c) {
			if (!lost)
				log_warn("not listening for other mounts' changes (%s): they show "
					 "through polling until the meta database answers", msg);
			lost = true;
			atomic_store(&n->away, true);
			if (notify_wait(n, -1, 0, retry) < 0)
				break;
			retry = retry * 2 > NOTIFY_RETRY_MAX_S ? NOTIFY_RETRY_MAX_S : retry * 2;
			continue;
		}
		if (lost) {
			/* What the others told meanwhile was not heard: listings are read again. */
			log_info("listening for other mounts' changes again");
			project_forget(n->p, PROJECT_ALL);
			lost = false;
		}
		retry = NOTIFY_RETRY_MIN_S;
		atomic_store(&n->away, false);
		if (notify_hear(n, c, msg, sizeof(msg)) != 0) {
			bool wanted = watcher_wanted(n->watcher);

			/* In use, the database is taken for away until it answers again. */
			atomic_store(&n->away, wanted);
			if (wanted)
				log_warn("lost the meta database's connection that other mounts' "
					 "changes come through (%s): they show through polling until "
					 "it is back", msg);
			else
				log_info("the meta database closed the idle connection that other "
					 "mounts' changes come through (%s); the next use connects "
					 "again", msg);
			lost = true;
		}
		PQfinish(c);
		c = NULL;
	}
	if (c)
		PQfinish(c);
	return NULL;
}

int notify_start(struct notify *n)
{
	char msg[512] = "";
	int res;

	if (!n)
		return 0;
	/* Listening before the mount answers its first request: no change told from then on
	 * is missed. A database that does not answer now is tried again by the thread. */
	n->first = notify_connect(n, msg, sizeof(msg));
	atomic_store(&n->away, n->first == NULL);
	res = pthread_create(&n->thread, NULL, notify_run, n);
	if (res) {
		log_err("cannot start the thread that hears other mounts: %s", strerror(res));
		return -res;
	}
	n->running = true;
	return 0;
}

void notify_stop(struct notify *n)
{
	char b = 1;

	if (!n || !n->running)
		return;
	atomic_store(&n->stopping, true);
	if (write(n->wake[1], &b, 1) < 0)
		log_debug("waking the listener: %s", strerror(errno));
	pthread_join(n->thread, NULL);
	n->running = false;
	atomic_store(&n->away, true);
}
