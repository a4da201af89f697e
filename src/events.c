/* events: the `events` file, one JSON line per change, for watchers.
 *
 * Every open is a reader with its own ring of lines. Emitting never waits for a reader:
 * when a ring is full its oldest line is dropped and counted, and the reader is told how
 * many it missed before its next line. A read blocks until a line arrives (tail -f, cat),
 * unless the file was opened O_NONBLOCK; poll() is woken through the kernel's poll handle,
 * as in libfuse's example/poll.c. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "log.h"

struct events_reader {
	struct events_reader *next;
	char **ring;
	size_t cap;
	size_t head;         /* index of the oldest line */
	size_t count;
	size_t offset;       /* bytes of the oldest line already read */
	unsigned long missed;
	struct fuse_pollhandle *ph;
	bool interrupted;
};

struct events {
	pthread_mutex_t lock;
	pthread_cond_t arrived;
	struct events_reader *readers;
	size_t queue_max;
	bool shutdown;
	struct fuse_session *se;
};

struct events *events_new(size_t queue_max)
{
	struct events *ev = calloc(1, sizeof(*ev));

	if (!ev)
		return NULL;
	pthread_mutex_init(&ev->lock, NULL);
	pthread_cond_init(&ev->arrived, NULL);
	ev->queue_max = queue_max ? queue_max : 1;
	return ev;
}

static void events_reader_free(struct events_reader *rd)
{
	size_t i;

	for (i = 0; i < rd->count; i++)
		free(rd->ring[(rd->head + i) % rd->cap]);
	free(rd->ring);
	if (rd->ph)
		fuse_pollhandle_destroy(rd->ph);
	free(rd);
}

void events_free(struct events *ev)
{
	struct events_reader *rd, *next;

	if (!ev)
		return;
	for (rd = ev->readers; rd; rd = next) {
		next = rd->next;
		events_reader_free(rd);
	}
	pthread_cond_destroy(&ev->arrived);
	pthread_mutex_destroy(&ev->lock);
	free(ev);
}

static char *events_render(const char *kind, struct json_object *fields, bool local)
{
	struct json_object *o = json_object_new_object();
	struct timespec ts;
	struct tm tm;
	char when[64], *line = NULL;

	if (!o)
		return NULL;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	json_object_object_add(o, "time", json_object_new_string(when));
	json_object_object_add(o, "kind", json_object_new_string(kind));
	json_object_object_add(o, "local", json_object_new_boolean(local));
	if (fields) {
		json_object_object_foreach(fields, k, v)
			json_object_object_add(o, k, json_object_get(v));
	}
	if (asprintf(&line, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
			JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
		line = NULL;
	json_object_put(o);
	return line;
}

/* Caller holds the lock. */
static void events_push(struct events *ev, struct events_reader *rd, const char *line)
{
	char *copy = strdup(line);

	if (!copy) {
		rd->missed++;
		return;
	}
	if (rd->count == ev->queue_max) {
		/* A slow reader loses its oldest line, never the mount its progress. */
		free(rd->ring[rd->head]);
		rd->head = (rd->head + 1) % ev->queue_max;
		rd->count--;
		rd->offset = 0;
		rd->missed++;
	}
	rd->ring[(rd->head + rd->count) % ev->queue_max] = copy;
	rd->count++;
	if (rd->ph) {
		fuse_lowlevel_notify_poll(rd->ph);
		fuse_pollhandle_destroy(rd->ph);
		rd->ph = NULL;
	}
}

void events_emit(struct events *ev, const char *kind, struct json_object *fields, bool local)
{
	struct events_reader *rd;
	char *line;

	if (!ev)
		return;
	line = events_render(kind, fields, local);
	if (!line) {
		log_warn("events: %s not recorded: out of memory", kind);
		return;
	}
	log_debug("event %s", line);
	pthread_mutex_lock(&ev->lock);
	for (rd = ev->readers; rd; rd = rd->next)
		events_push(ev, rd, line);
	pthread_cond_broadcast(&ev->arrived);
	pthread_mutex_unlock(&ev->lock);
	free(line);
}

struct events_reader *events_open(struct events *ev)
{
	struct events_reader *rd = calloc(1, sizeof(*rd));

	if (!rd)
		return NULL;
	rd->cap = ev->queue_max;
	rd->ring = calloc(rd->cap, sizeof(char *));
	if (!rd->ring) {
		free(rd);
		return NULL;
	}
	pthread_mutex_lock(&ev->lock);
	rd->next = ev->readers;
	ev->readers = rd;
	pthread_mutex_unlock(&ev->lock);
	return rd;
}

void events_close(struct events *ev, struct events_reader *rd)
{
	struct events_reader **p;

	if (!rd)
		return;
	pthread_mutex_lock(&ev->lock);
	for (p = &ev->readers; *p; p = &(*p)->next) {
		if (*p == rd) {
			*p = rd->next;
			break;
		}
	}
	pthread_mutex_unlock(&ev->lock);
	events_reader_free(rd);
}

struct events_wait {
	struct events *ev;
	struct events_reader *rd;
};

/* The kernel interrupts a blocked read when the reader gets a signal (Ctrl-C on tail). */
static void events_interrupt(fuse_req_t req, void *data)
{
	struct events_wait *w = data;

	(void)req;
	pthread_mutex_lock(&w->ev->lock);
	w->rd->interrupted = true;
	pthread_cond_broadcast(&w->ev->arrived);
	pthread_mutex_unlock(&w->ev->lock);
}

ssize_t events_read(struct events *ev, struct events_reader *rd, char *buf, size_t size,
		    bool nonblock, fuse_req_t req)
{
	struct events_wait w = { ev, rd };
	size_t used = 0;
	ssize_t res;

	if (!rd)
		return -EIO;
	if (req)
		fuse_req_interrupt_func(req, events_interrupt, &w);
	pthread_mutex_lock(&ev->lock);
	rd->interrupted = false;
	while (rd->count == 0 && rd->missed == 0 && !ev->shutdown && !rd->interrupted &&
	       !nonblock) {
		struct timespec until;

		/* libfuse joins its workers when the session ends; a reader parked here must
		 * notice that on its own, so wake now and then to look. */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&ev->arrived, &ev->lock, &until);
		if (ev->se && fuse_session_exited(ev->se))
			ev->shutdown = true;
	}
	if (rd->missed) {
		char note[128];
		int n = snprintf(note, sizeof(note),
				 "{\"kind\":\"events.missed\",\"local\":true,\"missed\":%lu}\n",
				 rd->missed);

		if ((size_t)n <= size) {
			memcpy(buf, note, (size_t)n);
			used = (size_t)n;
			rd->missed = 0;
		}
	}
	while (rd->count > 0 && used < size) {
		const char *line = rd->ring[rd->head] + rd->offset;
		size_t len = strlen(line);

		if (len > size - used) {
			/* Only split a line when it alone does not fit. */
			if (used > 0)
				break;
			memcpy(buf, line, size);
			rd->offset += size;
			used = size;
			break;
		}
		memcpy(buf + used, line, len);
		used += len;
		free(rd->ring[rd->head]);
		rd->ring[rd->head] = NULL;
		rd->head = (rd->head + 1) % ev->queue_max;
		rd->count--;
		rd->offset = 0;
	}
	if (used > 0)
		res = (ssize_t)used;
	else if (ev->shutdown)
		res = 0;
	else if (rd->interrupted)
		res = -EINTR;
	else
		res = -EAGAIN;
	pthread_mutex_unlock(&ev->lock);
	return res;
}

unsigned events_poll(struct events *ev, struct events_reader *rd, struct fuse_pollhandle *ph)
{
	unsigned revents = 0;

	if (!rd) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		return POLLERR;
	}
	pthread_mutex_lock(&ev->lock);
	if (ph) {
		if (rd->ph)
			fuse_pollhandle_destroy(rd->ph);
		rd->ph = ph;
	}
	if (rd->count > 0 || rd->missed > 0 || ev->shutdown)
		revents = POLLIN | POLLRDNORM;
	pthread_mutex_unlock(&ev->lock);
	return revents;
}

void events_attach(struct events *ev, struct fuse_session *se)
{
	pthread_mutex_lock(&ev->lock);
	ev->se = se;
	pthread_mutex_unlock(&ev->lock);
}

void events_shutdown(struct events *ev)
{
	if (!ev)
		return;
	pthread_mutex_lock(&ev->lock);
	ev->shutdown = true;
	pthread_cond_broadcast(&ev->arrived);
	pthread_mutex_unlock(&ev->lock);
}
