/* What the node types share: attributes, interned nodes, directory entries. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"

void node_fill(const struct node_ctx *c, struct stat *st, uint64_t ino, mode_t mode, time_t t)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = mode;
	st->st_nlink = S_ISDIR(mode) ? 2 : 1;
	st->st_uid = c->uid;
	st->st_gid = c->gid;
	st->st_blksize = 4096;
	st->st_atime = st->st_mtime = st->st_ctime = t ? t : c->mounted;
}

int node_make(struct node_ctx *c, enum tree_kind kind, const char *obj, const char *file,
	      struct tree_node *out)
{
	uint64_t ino = tree_intern(c->tree, kind, obj, file);

	if (!ino)
		return -ENOMEM;
	return tree_get(c->tree, ino, out);
}

int node_dir_add(struct node_dir *d, const char *name, uint64_t ino, mode_t mode)
{
	if (!ino)
		return -ENOMEM;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct node_dirent *e = realloc(d->ents, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		d->ents = e;
		d->cap = cap;
	}
	d->ents[d->n].name = strdup(name);
	if (!d->ents[d->n].name)
		return -ENOMEM;
	d->ents[d->n].ino = ino;
	d->ents[d->n].mode = mode;
	d->n++;
	return 0;
}

ssize_t node_copy_out(const char *src, size_t len, char *buf, size_t size, off_t off)
{
	if (off < 0 || (size_t)off >= len)
		return 0;
	if (size > len - (size_t)off)
		size = len - (size_t)off;
	memcpy(buf, src + off, size);
	return (ssize_t)size;
}
