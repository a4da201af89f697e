/* events: one JSON line per change, for watchers (tail -f, poll, a read that waits). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "node.h"

struct events_handle {
	struct events_reader *reader;
	bool log_reader;   /* reads events as a growing log: end of file when caught up */
};

static int events_getattr(struct node_ctx *c, const struct tree_node *n, struct stat *st)
{
	unsigned long long bytes;
	struct timespec last;

	events_stat(c->events, &bytes, &last);
	node_fill(c, st, n->ino, S_IFREG | 0444, last.tv_sec);
	st->st_size = (off_t)bytes;
	if (last.tv_sec)
		st->st_mtim = last;
	return 0;
}

/* GNU tail (and busybox's) reads a file to its end before it follows it, and follows by
 * polling size and mtime; a read that waits for the next event would keep it from ever
 * printing. So tail gets what a growing log gives: end of file once caught up. Every
 * other reader's read waits for the next line. */
static bool events_opener_is_tail(pid_t pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	return strcmp(comm, "tail") == 0;
}

static int events_open_file(struct node_ctx *c, const struct tree_node *n,
			    const struct node_opener *who, struct node_handle *h)
{
	struct events_handle *e = calloc(1, sizeof(*e));

	(void)n;
	if (!e)
		return -ENOMEM;
	e->reader = events_open(c->events);
	if (!e->reader) {
		free(e);
		return -ENOMEM;
	}
	e->log_reader = events_opener_is_tail(who->pid);
	h->priv = e;
	h->direct_io = true;
	h->nonseekable = true;
	return 0;
}

static void events_read_wait(struct node_ctx *c, struct node_handle *h, fuse_req_t req,
			     size_t size, bool nonblock)
{
	struct events_handle *e = h->priv;

	events_read(c->events, e->reader, req, size, nonblock, e->log_reader);
}

static unsigned events_poll_file(struct node_ctx *c, struct node_handle *h,
				 struct fuse_pollhandle *ph)
{
	struct events_handle *e = h->priv;

	return events_poll(c->events, e->reader, ph);
}

static void events_release(struct node_ctx *c, struct node_handle *h)
{
	struct events_handle *e = h->priv;

	if (!e)
		return;
	events_close(c->events, e->reader);
	free(e);
}

const struct node_ops node_events_ops = {
	.what = "events",
	.getattr = events_getattr,
	.open = events_open_file,
	.read_wait = events_read_wait,
	.poll = events_poll_file,
	.release = events_release,
};
