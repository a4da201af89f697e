/* events: the `events` file, one JSON line per change, for watchers.
 *
 * Every open is a reader with its own ring of lines. Emitting never waits for a reader:
 * when a ring is full its oldest line is dropped and counted, and the reader is told how
 * many it missed before its next line. A read waits until a line arrives (cat, a shell
 * loop), unless the file was opened O_NONBLOCK; the waiting request is parked and answered
 * when a line is emitted, so waiting readers hold no thread. poll() is woken through the
 * kernel's poll handle, as in libfuse's example/poll.c. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "log.h"
#include "reply.h"
#include "util.h"

struct events_reader {
	struct events_reader *next;
	char **ring;
	size_t cap;
	size_t head;         /* index of the oldest line */
	size_t count;
	size_t offset;       /* bytes of the oldest line already read */
	unsigned long missed;
	struct fuse_pollhandle *ph;
	struct events *ev;
	fuse_req_t parked;   /* a read waiting for the next line */
	size_t want;
};

struct events {
	pthread_mutex_t lock;
	struct events_reader *readers;
	size_t queue_max;
	bool shutdown;
	unsigned long long bytes;   /* emitted since the mount */
	struct timespec last;       /* when the last line was emitted */
	struct events *up;          /* an organization's root events, or NULL */
	char *project;              /* the project the lines copied there name */
};

static void events_wake(struct events *ev, struct events_reader *rd);

struct events *events_new(size_t queue_max)
{
	struct events *ev = calloc(1, sizeof(*ev));

	if (!ev)
		return NULL;
	pthread_mutex_init(&ev->lock, NULL);
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
	pthread_mutex_destroy(&ev->lock);
	free(ev->project);
	free(ev);
}

int events_forward(struct events *ev, struct events *up, const char *project_id)
{
	char *id = strdup(project_id);

	if (!id)
		return -ENOMEM;
	free(ev->project);
	ev->project = id;
	ev->up = up;
	return 0;
}

/* Appends @s to @out as a JSON string. The events file is neonfs's own JSON, with keys and
 * values that are plain strings: a writer this small keeps JSON parsing out of here. */
static void events_quote(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', out);
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", out);
		else if (*p == '\t')
			fputs("\\t", out);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

/* {"time": ..., "kind": ..., "local": ..., "project": ... (when given), then the fields},
 * one line. */
static char *events_render(const char *kind, bool local, const char *project, va_list ap)
{
	struct timespec ts;
	char when[64], *line = NULL;
	const char *key, *value;
	size_t len = 0;
	FILE *out = open_memstream(&line, &len);

	if (!out)
		return NULL;
	clock_gettime(CLOCK_REALTIME, &ts);
	util_iso8601(&ts, when, sizeof(when));
	fputs("{\"time\":", out);
	events_quote(out, when);
	fputs(",\"kind\":", out);
	events_quote(out, kind);
	fprintf(out, ",\"local\":%s", local ? "true" : "false");
	if (project) {
		fputs(",\"project\":", out);
		events_quote(out, project);
	}
	while ((key = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		if (!value)
			continue;
		fputc(',', out);
		events_quote(out, key);
		fputc(':', out);
		events_quote(out, value);
	}
	fputs("}\n", out);
	if (fclose(out) != 0) {
		free(line);
		return NULL;
	}
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

/* Hands @line to every reader of @ev. */
static void events_publish(struct events *ev, const char *line)
{
	struct events_reader *rd;

	pthread_mutex_lock(&ev->lock);
	ev->bytes += strlen(line);
	clock_gettime(CLOCK_REALTIME, &ev->last);
	for (rd = ev->readers; rd; rd = rd->next) {
		events_push(ev, rd, line);
		events_wake(ev, rd);
	}
	pthread_mutex_unlock(&ev->lock);
}

void events_emit(struct events *ev, const char *kind, int local, ...)
{
	va_list ap, again;
	char *line, *up = NULL;

	if (!ev)
		return;
	va_start(ap, local);
	va_copy(again, ap);
	line = events_render(kind, local != 0, NULL, ap);
	if (ev->up)
		up = events_render(kind, local != 0, ev->project, again);
	va_end(again);
	va_end(ap);
	if (!line || (ev->up && !up)) {
		log_warn("events: %s not recorded: out of memory", kind);
		free(line);
		free(up);
		return;
	}
	log_debug("event %s", line);
	events_publish(ev, line);
	if (up)
		events_publish(ev->up, up);
	free(line);
	free(up);
}

struct events_reader *events_open(struct events *ev)
{
	struct events_reader *rd = calloc(1, sizeof(*rd));

	if (!rd)
		return NULL;
	rd->cap = ev->queue_max;
	rd->ev = ev;
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
	events_wake(ev, rd);
	pthread_mutex_unlock(&ev->lock);
	events_reader_free(rd);
}

/* Caller holds the lock. Copies whole lines (the missed-lines note first) into @buf. */
static size_t events_take(struct events *ev, struct events_reader *rd, char *buf, size_t size)
{
	size_t used = 0;

	if (rd->missed) {
		char note[128];
		int n = snprintf(note, sizeof(note),
				 "{\"kind\":\"events.missed\",\"local\":true,\"missed\":%lu}\n",
				 rd->missed);

		if (n > 0 && (size_t)n <= size) {
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
	return used;
}

/* Caller holds the lock. Answers @req with what the reader has, or end of file. */
static void events_reply(struct events *ev, struct events_reader *rd, fuse_req_t req,
			 size_t size)
{
	char *buf = malloc(size ? size : 1);
	size_t n;

	if (!buf) {
		reply_err(req, ENOMEM);
		return;
	}
	n = events_take(ev, rd, buf, size);
	reply_buf(req, buf, n);
	free(buf);
}

/* Caller holds the lock. */
static void events_wake(struct events *ev, struct events_reader *rd)
{
	fuse_req_t req = rd->parked;

	if (!req)
		return;
	rd->parked = NULL;
	events_reply(ev, rd, req, rd->want);
}

/* The kernel interrupts a waiting read when the reader gets a signal (Ctrl-C on cat). */
static void events_interrupt(fuse_req_t req, void *data)
{
	struct events_reader *rd = data;
	struct events *ev = rd->ev;

	pthread_mutex_lock(&ev->lock);
	if (rd->parked == req) {
		rd->parked = NULL;
		reply_err(req, EINTR);
	}
	pthread_mutex_unlock(&ev->lock);
}

void events_read(struct events *ev, struct events_reader *rd, fuse_req_t req, size_t size,
		 bool nonblock, bool eof_when_empty)
{
	if (!rd) {
		reply_err(req, EIO);
		return;
	}
	/* Registered before the request can be parked, so it never runs on a request that
	 * was already answered. */
	fuse_req_interrupt_func(req, events_interrupt, rd);
	pthread_mutex_lock(&ev->lock);
	if (fuse_req_interrupted(req)) {
		reply_err(req, EINTR);
	} else if (rd->count > 0 || rd->missed > 0 || ev->shutdown || eof_when_empty) {
		events_reply(ev, rd, req, size);
	} else if (nonblock) {
		reply_err(req, EAGAIN);
	} else if (rd->parked) {
		/* One waiting read per open file is all a stream can serve in order. */
		reply_err(req, EBUSY);
	} else {
		/* Parked, not blocked: the reply comes from events_emit, and no worker thread
		 * waits, however many readers there are. */
		rd->parked = req;
		rd->want = size;
	}
	pthread_mutex_unlock(&ev->lock);
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

void events_stat(struct events *ev, unsigned long long *bytes, struct timespec *last)
{
	pthread_mutex_lock(&ev->lock);
	*bytes = ev->bytes;
	*last = ev->last;
	pthread_mutex_unlock(&ev->lock);
}

size_t events_readers(struct events *ev)
{
	struct events_reader *rd;
	size_t n = 0;

	pthread_mutex_lock(&ev->lock);
	for (rd = ev->readers; rd; rd = rd->next)
		n++;
	pthread_mutex_unlock(&ev->lock);
	/* Who follows the organization's events follows this project's too. */
	return n + (ev->up ? events_readers(ev->up) : 0);
}

void events_shutdown(struct events *ev)
{
	if (!ev)
		return;
	struct events_reader *rd;

	pthread_mutex_lock(&ev->lock);
	ev->shutdown = true;
	for (rd = ev->readers; rd; rd = rd->next)
		events_wake(ev, rd);
	pthread_mutex_unlock(&ev->lock);
}
