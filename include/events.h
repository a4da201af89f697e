/* events: the `events` file, one JSON line per change, for watchers.
 *
 * Each open of the file is a reader with its own bounded queue; a reader that falls behind
 * loses the oldest lines and is told how many, so a slow reader never blocks the mount. */
#ifndef NEONFS_EVENTS_H
#define NEONFS_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <fuse_lowlevel.h>

struct events;
struct events_reader;

struct events *events_new(size_t queue_max);
void events_free(struct events *ev);

/* Publishes one event: @kind such as "snapshot.created"; @local says whether it was made
 * through this mount; then name/value string pairs (a NULL value is left out), ending with
 * a NULL name. @local is an int, not a bool, because it is the parameter before the "..."
 * and va_start is undefined on one that default argument promotion widens. */
void events_emit(struct events *ev, const char *kind, int local, ...);

/* In an organization's mount: every line emitted on @ev is emitted on @up too (its root
 * events), with "project": @project_id after "local". Set before any line is emitted. */
int events_forward(struct events *ev, struct events *up, const char *project_id);

/* A new reader receives the events emitted after it opened. */
struct events_reader *events_open(struct events *ev);
void events_close(struct events *ev, struct events_reader *rd);

/* Answers the read @req with up to @size bytes of whole lines. With nothing queued the
 * request waits (parked, holding no thread) for the next line, unless @nonblock (EAGAIN)
 * or @eof_when_empty (end of file: a reader that treats the file as a growing log, such
 * as tail). Interrupted waits get EINTR; a mount going away answers end of file. */
void events_read(struct events *ev, struct events_reader *rd, fuse_req_t req, size_t size,
		 bool nonblock, bool eof_when_empty);

/* What stat shows: bytes emitted since the mount, and when the last line was. A growing
 * size is how pollers such as tail -f learn there is more to read. */
void events_stat(struct events *ev, unsigned long long *bytes, struct timespec *last);

/* poll(): registers @ph to be notified when a line arrives; returns POLLIN when ready. */
unsigned events_poll(struct events *ev, struct events_reader *rd, struct fuse_pollhandle *ph);

/* How many have the file open (with the organization's events, when forwarded there):
 * while someone follows it, changes made elsewhere are looked for even when nothing else
 * uses the mount. */
size_t events_readers(struct events *ev);

/* Wakes every blocked reader so the mount can stop. */
void events_shutdown(struct events *ev);

#endif
