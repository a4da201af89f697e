/* notify_hub: one listening connection and thread per mount, for all its projects.
 *
 * The connection is the thread's alone; projects join and leave from request threads by
 * changing the table under the lock and waking the thread through a pipe, and the thread
 * sends the LISTEN and UNLISTEN they need. A notice is handed to its channel's project with
 * no lock held: the entry is held by a reference, and leaving waits until it is dropped. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <libpq-fe.h>

#include "api.h"
#include "log.h"
#include "notify_hub.h"
#include "util.h"

#define HUB_CONNECT_S		5.0
#define HUB_RETRY_MIN_S		0.5
#define HUB_RETRY_MAX_S		5.0
#define HUB_IDLE_CHECK_S	1.0	/* a local check: is the mount in use again? */
#define HUB_CHANNEL_MAX		64	/* a Postgres name: at most 63 bytes */

struct notify_hub_entry {
	struct notify_hub_entry *prev, *next;
	char channel[HUB_CHANNEL_MAX];
	struct notify_hub_client client;
	unsigned refs;            /* the hub's thread is calling the client */
	bool leaving;
	bool queued;              /* in a LISTEN sent on the present connection */
	uint64_t batch;           /* ...in that batch */
};

struct notify_hub {
	char *conninfo;
	char mount[128];
	int wake[2];
	pthread_t thread;
	bool running;
	atomic_bool away;
	atomic_bool stopping;

	pthread_mutex_t lock;     /* all below */
	pthread_cond_t changed;   /* a batch done, a try failed, a reference dropped */
	struct notify_hub_entry *head;
	char (*unlisten)[HUB_CHANNEL_MAX];
	size_t nunlisten, unlisten_cap;
	uint64_t batch;           /* the last batch made */
	uint64_t done;            /* the last batch the database answered */
	uint64_t tries;           /* failed connects and losses */
	bool pending;             /* the thread's own: a wake was taken while busy */
	unsigned joining;         /* a project joins: connect even when idle */
};

struct notify_hub *notify_hub_new(const char *conninfo)
{
	struct notify_hub *h;
	uint64_t r = 0;
	char host[256] = "";

	if (!conninfo)
		return NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->conninfo = strdup(conninfo);
	if (!h->conninfo || pipe2(h->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		free(h->conninfo);
		free(h);
		return NULL;
	}
	atomic_init(&h->away, false);
	atomic_init(&h->stopping, false);
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->changed, NULL);
	/* pid and host say who it was in a log; the random part tells apart two mounts that a
	 * restarted host gave the same pid. */
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (uint64_t)util_now() ^ ((uint64_t)getpid() << 32);
	gethostname(host, sizeof(host) - 1);
	snprintf(h->mount, sizeof(h->mount), "pid %ld on %s/%016" PRIx64, (long)getpid(), host,
		 r);
	return h;
}

void notify_hub_free(struct notify_hub *h)
{
	if (!h)
		return;
	notify_hub_stop(h);
	free(h->unlisten);
	close(h->wake[0]);
	close(h->wake[1]);
	pthread_cond_destroy(&h->changed);
	pthread_mutex_destroy(&h->lock);
	free(h->conninfo);
	free(h);
}

const char *notify_hub_mount(const struct notify_hub *h)
{
	return h->mount;
}

bool notify_hub_away(struct notify_hub *h)
{
	return atomic_load(&h->away);
}

static void hub_poke(struct notify_hub *h)
{
	char b = 1;

	/* A full pipe already wakes the thread. */
	if (write(h->wake[1], &b, 1) < 0 && errno != EAGAIN)
		log_debug("waking the listener: %s", strerror(errno));
}

/* ---- the table ---- */

struct notify_hub_entry *notify_hub_join(struct notify_hub *h, const char *channel,
					 const struct notify_hub_client *c)
{
	struct notify_hub_entry *e = calloc(1, sizeof(*e));
	struct timespec until = util_deadline(HUB_CONNECT_S + 1.0);
	uint64_t tries;

	if (!e)
		return NULL;
	snprintf(e->channel, sizeof(e->channel), "%s", channel);
	e->client = *c;
	pthread_mutex_lock(&h->lock);
	e->next = h->head;
	if (h->head)
		h->head->prev = e;
	h->head = e;
	tries = h->tries;
	if (h->running) {
		h->joining++;
		hub_poke(h);
		/* Listening before the project answers its first request. */
		while (!(e->queued && h->done >= e->batch) && h->tries == tries &&
		       !atomic_load(&h->stopping))
			if (pthread_cond_timedwait(&h->changed, &h->lock, &until) == ETIMEDOUT)
				break;
		h->joining--;
	}
	pthread_mutex_unlock(&h->lock);
	return e;
}

void notify_hub_leave(struct notify_hub *h, struct notify_hub_entry *e)
{
	struct notify_hub_entry *o = NULL;

	if (!e)
		return;
	pthread_mutex_lock(&h->lock);
	e->leaving = true;
	while (e->refs)
		pthread_cond_wait(&h->changed, &h->lock);
	if (e->prev)
		e->prev->next = e->next;
	else
		h->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	/* A project closed and opened again at once has a second entry on the channel, which
	 * still listens. */
	for (o = h->head; o && e->queued; o = o->next)
		if (!o->leaving && strcmp(o->channel, e->channel) == 0)
			break;
	if (e->queued && h->running && !o) {
		if (h->nunlisten == h->unlisten_cap) {
			size_t cap = h->unlisten_cap ? h->unlisten_cap * 2 : 16;
			void *v = realloc(h->unlisten, cap * sizeof(*h->unlisten));

			if (v) {
				h->unlisten = v;
				h->unlisten_cap = cap;
			}
		}
		/* Without memory the channel stays listened to; its notices find no one. */
		if (h->nunlisten < h->unlisten_cap) {
			memcpy(h->unlisten[h->nunlisten++], e->channel, HUB_CHANNEL_MAX);
			hub_poke(h);
		}
	}
	pthread_mutex_unlock(&h->lock);
	free(e);
}

/* Holds @e for a call without the lock (held on entry and on return). */
static void hub_hold(struct notify_hub *h, struct notify_hub_entry *e)
{
	e->refs++;
	pthread_mutex_unlock(&h->lock);
}

/* Drops it again; @e is valid (and still in the table) until then. */
static void hub_release(struct notify_hub *h, struct notify_hub_entry *e)
{
	pthread_mutex_lock(&h->lock);
	if (--e->refs == 0 && e->leaving)
		pthread_cond_broadcast(&h->changed);
}

static void hub_dispatch(struct notify_hub *h, const char *channel, const char *payload)
{
	struct notify_hub_entry *e;

	pthread_mutex_lock(&h->lock);
	for (e = h->head; e; e = e->next)
		if (!e->leaving && strcmp(e->channel, channel) == 0)
			break;
	if (e) {
		hub_hold(h, e);
		e->client.hear(e->client.data, payload);
		hub_release(h, e);
	}
	pthread_mutex_unlock(&h->lock);
}

/* Is any project in use (or joining)? */
static bool hub_wanted(struct notify_hub *h)
{
	struct notify_hub_entry *e, *next;
	bool wanted;

	pthread_mutex_lock(&h->lock);
	wanted = h->joining > 0;
	for (e = h->head; e && !wanted; e = next) {
		if (e->leaving) {
			next = e->next;
			continue;
		}
		hub_hold(h, e);
		wanted = e->client.wanted(e->client.data);
		hub_release(h, e);
		next = e->next;
	}
	pthread_mutex_unlock(&h->lock);
	return wanted;
}

static void hub_missed(struct notify_hub *h)
{
	struct notify_hub_entry *e, *next;

	pthread_mutex_lock(&h->lock);
	for (e = h->head; e; e = next) {
		if (!e->leaving) {
			hub_hold(h, e);
			e->client.missed(e->client.data);
			hub_release(h, e);
		}
		next = e->next;
	}
	pthread_mutex_unlock(&h->lock);
}

/* ---- the connection ---- */

/* Waits until @fd (-1: none) is ready for @events or @timeout_s (< 0: no end) passes.
 * 1: ready; 0: timed out; 2: woken (the table changed); -1: stopping. */
static int hub_wait(struct notify_hub *h, int fd, short events, double timeout_s)
{
	struct pollfd p[2] = { { h->wake[0], POLLIN, 0 }, { fd, events, 0 } };
	int ms = timeout_s < 0 ? -1 : timeout_s <= 0 ? 0 : (int)(timeout_s * 1000.0) + 1;
	char buf[64];
	int r;

	for (;;) {
		if (atomic_load(&h->stopping))
			return -1;
		r = poll(p, fd >= 0 ? 2 : 1, ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (atomic_load(&h->stopping))
			return -1;
		if (r > 0 && p[0].revents) {
			while (read(h->wake[0], buf, sizeof(buf)) > 0)
				;
			return 2;
		}
		return r > 0 ? 1 : 0;
	}
}

/* Like hub_wait, but a wake does not end the wait before @deadline. */
static int hub_wait_until(struct notify_hub *h, int fd, short events, double deadline)
{
	int r;

	do {
		double left = deadline - util_now();

		if (left <= 0)
			return 0;
		r = hub_wait(h, fd, events, left);
		if (r == 2)
			h->pending = true;
	} while (r == 2);
	return r;
}

static void hub_error(PGconn *c, char *msg, size_t len)
{
	const char *e = c ? PQerrorMessage(c) : "out of memory";
	size_t l;

	snprintf(msg, len, "%s", e && *e ? e : "the connection was lost");
	l = strlen(msg);
	while (l && (msg[l - 1] == '\n' || msg[l - 1] == ' '))
		msg[--l] = '\0';
}

static void hub_timeout(struct notify_hub *h, char *msg, size_t len)
{
	snprintf(msg, len, "%s", atomic_load(&h->stopping) ? "the mount is stopping" :
		 "no answer within the connect timeout");
}

/* Connects within HUB_CONNECT_S. NULL with words in @msg. */
static PGconn *hub_connect(struct notify_hub *h, char *msg, size_t len)
{
	/* Keepalives: a server gone without a word (a network that drops) is found within
	 * half a minute, as a lost connection. */
	const char *keys[] = { "dbname", "application_name", "keepalives", "keepalives_idle",
			       "keepalives_interval", "keepalives_count", NULL };
	const char *vals[] = { h->conninfo, "neonfs notices", "1", "10", "5", "3", NULL };
	double deadline = util_now() + HUB_CONNECT_S;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	PGconn *c = PQconnectStartParams(keys, vals, 1);

	if (!c || PQstatus(c) == CONNECTION_BAD)
		goto fail;
	while (st != PGRES_POLLING_OK) {
		if (st == PGRES_POLLING_FAILED)
			goto fail;
		if (hub_wait_until(h, PQsocket(c), st == PGRES_POLLING_READING ? POLLIN :
				   POLLOUT, deadline) <= 0) {
			hub_timeout(h, msg, len);
			PQfinish(c);
			return NULL;
		}
		st = PQconnectPoll(c);
	}
	return c;
fail:
	hub_error(c, msg, len);
	PQfinish(c);
	return NULL;
}

/* Runs @sql (commands without rows) within HUB_CONNECT_S. 0, or -EIO with words in @msg.
 * Notices that come meanwhile wait in the connection for hub_hear. */
static int hub_exec(struct notify_hub *h, PGconn *c, const char *sql, char *msg, size_t len)
{
	double deadline = util_now() + HUB_CONNECT_S;
	PGresult *res;
	bool ok = true;

	if (!PQsendQuery(c, sql))
		goto fail;
	for (;;) {
		while (!PQisBusy(c)) {
			res = PQgetResult(c);
			if (!res) {
				if (ok)
					return 0;
				goto fail;
			}
			if (PQresultStatus(res) != PGRES_COMMAND_OK)
				ok = false;
			PQclear(res);
		}
		if (hub_wait_until(h, PQsocket(c), POLLIN, deadline) <= 0) {
			hub_timeout(h, msg, len);
			return -EIO;
		}
		if (!PQconsumeInput(c))
			goto fail;
	}
fail:
	hub_error(c, msg, len);
	return -EIO;
}

static bool hub_append(char **sql, size_t *len, size_t *cap, PGconn *c, const char *verb,
		       const char *channel)
{
	char *ident = PQescapeIdentifier(c, channel, strlen(channel));
	size_t need = strlen(verb) + (ident ? strlen(ident) : 0) + 4;

	if (!ident)
		return false;
	if (*len + need > *cap) {
		size_t n = (*len + need) * 2;
		char *s = realloc(*sql, n);

		if (!s) {
			PQfreemem(ident);
			return false;
		}
		*sql = s;
		*cap = n;
	}
	*len += (size_t)snprintf(*sql + *len, *cap - *len, "%s %s;", verb, ident);
	PQfreemem(ident);
	return true;
}

/* Sends the LISTEN and UNLISTEN the table's changes need. 0 or -EIO (words in @msg). */
static int hub_sync(struct notify_hub *h, PGconn *c, char *msg, size_t msglen)
{
	struct notify_hub_entry *e;
	char *sql = NULL;
	size_t len = 0, cap = 0, i;
	uint64_t batch;
	int res;

	pthread_mutex_lock(&h->lock);
	batch = h->batch + 1;
	for (i = 0; i < h->nunlisten; i++)
		if (!hub_append(&sql, &len, &cap, c, "UNLISTEN", h->unlisten[i]))
			goto nomem;
	for (e = h->head; e; e = e->next) {
		if (e->leaving || e->queued)
			continue;
		if (!hub_append(&sql, &len, &cap, c, "LISTEN", e->channel))
			goto nomem;
		e->queued = true;
		e->batch = batch;
	}
	h->nunlisten = 0;
	if (!sql) {
		pthread_mutex_unlock(&h->lock);
		return 0;
	}
	h->batch = batch;
	pthread_mutex_unlock(&h->lock);
	res = hub_exec(h, c, sql, msg, msglen);
	free(sql);
	if (res == 0) {
		pthread_mutex_lock(&h->lock);
		h->done = batch;
		pthread_cond_broadcast(&h->changed);
		pthread_mutex_unlock(&h->lock);
	}
	return res;
nomem:
	/* Those marked queued are sent on the next connection; this one is given up. */
	pthread_mutex_unlock(&h->lock);
	free(sql);
	snprintf(msg, msglen, "out of memory");
	return -EIO;
}

/* Hears notices until the connection is lost (-EIO, words in @msg), the table changes (1)
 * or the mount stops (0). */
static int hub_hear(struct notify_hub *h, PGconn *c, char *msg, size_t len)
{
	PGnotify *nt;
	PGresult *res;

	for (;;) {
		int sock = PQsocket(c), r;

		if (sock < 0 || PQstatus(c) != CONNECTION_OK) {
			hub_error(c, msg, len);
			return -EIO;
		}
		/* Notices that came during a LISTEN are in the connection already. */
		while ((nt = PQnotifies(c)) != NULL) {
			hub_dispatch(h, nt->relname, nt->extra);
			PQfreemem(nt);
		}
		r = h->pending ? 2 : hub_wait(h, sock, POLLIN, -1);
		h->pending = false;
		if (r < 0)
			return 0;
		if (r == 2)
			return 1;
		if (!PQconsumeInput(c)) {
			hub_error(c, msg, len);
			return -EIO;
		}
		/* Nothing is asked meanwhile; an error the server sent (it is shutting down,
		 * or ended the session) comes as a result. */
		while (!PQisBusy(c) && (res = PQgetResult(c)) != NULL)
			PQclear(res);
	}
}

/* A try failed or the connection went: joiners stop waiting for it. */
static void hub_failed(struct notify_hub *h)
{
	pthread_mutex_lock(&h->lock);
	h->tries++;
	pthread_cond_broadcast(&h->changed);
	pthread_mutex_unlock(&h->lock);
}

/* A new connection listens on every channel again; nothing is left to unlisten. */
static void hub_connected(struct notify_hub *h)
{
	struct notify_hub_entry *e;

	pthread_mutex_lock(&h->lock);
	for (e = h->head; e; e = e->next)
		e->queued = false;
	h->nunlisten = 0;
	pthread_mutex_unlock(&h->lock);
}

static void *hub_run(void *data)
{
	struct notify_hub *h = data;
	double retry = HUB_RETRY_MIN_S;
	bool lost = false;
	char msg[512];
	PGconn *c = NULL;
	int r;

	/* The listing a restore notice needs is what the budget sheds first. */
	api_set_background(true);
	while (!atomic_load(&h->stopping)) {
		if (!c && !hub_wanted(h)) {
			/* Idle is free: a meta database on Neon closes idle sessions when its
			 * compute suspends, and connecting again would wake it. The next use
			 * of the mount connects, and reads its listings afresh. */
			if (hub_wait(h, -1, 0, HUB_IDLE_CHECK_S) < 0)
				break;
			continue;
		}
		if (!c) {
			c = hub_connect(h, msg, sizeof(msg));
			if (c)
				hub_connected(h);
		}
		if (c && hub_sync(h, c, msg, sizeof(msg)) != 0) {
			PQfinish(c);
			c = NULL;
		}
		if (!c) {
			hub_failed(h);
			if (atomic_load(&h->stopping))
				break;
			if (!lost)
				log_warn("not listening for other mounts' changes (%s): they show "
					 "through polling until the meta database answers", msg);
			lost = true;
			atomic_store(&h->away, true);
			/* A project that joins is not kept waiting for the backoff. */
			if (hub_wait(h, -1, 0, retry) < 0)
				break;
			retry = retry * 2 > HUB_RETRY_MAX_S ? HUB_RETRY_MAX_S : retry * 2;
			continue;
		}
		if (lost) {
			/* What the others told meanwhile was not heard: listings are read again. */
			log_info("listening for other mounts' changes again");
			hub_missed(h);
			lost = false;
		}
		retry = HUB_RETRY_MIN_S;
		atomic_store(&h->away, false);
		r = hub_hear(h, c, msg, sizeof(msg));
		if (r > 0)
			continue;
		if (r < 0) {
			bool wanted = hub_wanted(h);

			/* In use, the database is taken for away until it answers again. */
			atomic_store(&h->away, wanted);
			if (wanted)
				log_warn("lost the meta database's connection that other mounts' "
					 "changes come through (%s): they show through polling until "
					 "it is back", msg);
			else
				log_info("the meta database closed the idle connection that other "
					 "mounts' changes come through (%s); the next use connects "
					 "again", msg);
			lost = true;
			hub_failed(h);
		}
		PQfinish(c);
		c = NULL;
	}
	if (c)
		PQfinish(c);
	return NULL;
}

int notify_hub_start(struct notify_hub *h)
{
	int res;

	if (!h)
		return 0;
	res = pthread_create(&h->thread, NULL, hub_run, h);
	if (res) {
		log_err("cannot start the thread that hears other mounts: %s", strerror(res));
		return -res;
	}
	pthread_mutex_lock(&h->lock);
	h->running = true;
	pthread_mutex_unlock(&h->lock);
	return 0;
}

void notify_hub_stop(struct notify_hub *h)
{
	if (!h || !h->running)
		return;
	atomic_store(&h->stopping, true);
	hub_poke(h);
	pthread_mutex_lock(&h->lock);
	pthread_cond_broadcast(&h->changed);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	pthread_mutex_lock(&h->lock);
	h->running = false;
	pthread_mutex_unlock(&h->lock);
	atomic_store(&h->away, true);
}
