/* restore_undo: undo of a restore, and what is kept of the branches restores replace.
 *
 * A finalized snapshot restore keeps the branch it replaced ("main (old)"), untouched: no
 * compute is left on it, so its head is the state just before the restore. Undo is Neon's
 * branch restore of the active branch from that head. It costs no snapshot slot and no
 * copy: the active branch keeps its id, name and computes (so the connection string is
 * unchanged), the branch undone from becomes its parent, and the state the undo replaces
 * is kept as a new branch, "<name> (old N)", which the next undo restores from. So an undo
 * can itself be undone, for as long as the branch it names exists. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "model.h"
#include "restore.h"
#include "util.h"

#include "restore_internal.h"

/* The first branch of @list named @name, or NULL. */
static const struct neon_branch *restore_branch_named(const struct model_list *list,
						      const char *name)
{
	size_t i, n = model_count(list);

	for (i = 0; i < n; i++)
		if (strcmp(model_branch_at(list, i)->name, name) == 0)
			return model_branch_at(list, i);
	return NULL;
}

/* "<name> (old)" and "<name> (old N)": the names Neon gives a branch a finalized restore
 * replaced, and the ones an undo gives the state it replaces. */
bool restore_old_name(const char *name, const char *active)
{
	size_t n = strlen(active);
	const char *p;

	if (strncmp(name, active, n) != 0 || strncmp(name + n, " (old", 5) != 0)
		return false;
	p = name + n + 5;
	if (strcmp(p, ")") == 0)
		return true;
	if (*p++ != ' ' || *p < '1' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	return strcmp(p, ")") == 0;
}

int restore_preserve_name(struct api *api, const char *branch_name, char *out, size_t len,
			  char *msg, size_t msglen)
{
	struct model_list *list = NULL;
	struct api_error err = { 0 };
	char base[240];
	size_t cut;
	int i, res;

	res = api_list_branches(api, &list, &err);
	if (res) {
		util_msg(msg, msglen, "%s", err.message);
		return res;
	}
	/* Room for the suffix within Neon's 256 bytes, not cutting a character in two. */
	snprintf(base, sizeof(base), "%s", branch_name);
	cut = strlen(base);
	if (cut < strlen(branch_name))
		while (cut > 0 && ((unsigned char)base[cut] & 0xC0) == 0x80)
			base[--cut] = '\0';
	snprintf(out, len, "%s (old)", base);
	for (i = 2; restore_branch_named(list, out) && i < 10000; i++)
		snprintf(out, len, "%s (old %d)", base, i);
	model_list_put(list);
	return 0;
}

int restore_send(struct api *api, const struct restore_request *req, const char *target,
		 const char *preserve, struct model_answer **resp, struct api_error *err)
{
	if (req->source_branch_id)
		return api_restore_branch(api, target, req->source_branch_id, preserve, resp, err);
	return api_restore_snapshot(api, req->snapshot_id, target, true, NULL, resp, err);
}

int restore_landed(struct api *api, const struct restore_request *req, const char *target,
		   char *msg, size_t msglen)
{
	struct model_answer *got = NULL;
	struct api_error err = { 0 };
	const char *parent;
	int res;

	if (!req->source_branch_id)
		return 0;
	res = api_get_branch(api, target, &got, &err);
	if (res) {
		util_msg(msg, msglen, "%s", err.message);
		return res;
	}
	parent = got->branch ? got->branch->u.branch.parent_id : "";
	if (strcmp(parent, req->source_branch_id) != 0) {
		util_msg(msg, msglen, "branch %s's parent is %s, not %s, whose head it was to get",
			 target, *parent ? parent : "(none)", req->source_branch_id);
		res = -EIO;
	}
	model_answer_free(got);
	return res;
}

struct restore_old {
	const struct neon_branch *b;
	const char *updated;
};

/* Newest replaced first; ties (Neon's times have seconds) by name, "(old 3)" after
 * "(old 2)", so the later one counts as newer. */
static int restore_old_cmp(const void *x, const void *y)
{
	const struct restore_old *a = x, *b = y;
	const char *an = a->b->name, *bn = b->b->name;
	int c = strcmp(b->updated, a->updated);

	if (c)
		return c;
	if (strlen(an) != strlen(bn))
		return strlen(an) < strlen(bn) ? 1 : -1;
	return strcmp(bn, an);
}

static bool restore_is_replaced(const struct model_list *list, const struct neon_branch *b,
				const char *active_name)
{
	size_t i, n = model_count(list);

	if (b->is_default)
		return false;
	if (restore_old_name(b->name, active_name))
		return true;
	for (i = 0; i < n; i++)
		if (strcmp(model_branch_at(list, i)->restored_as, b->id) == 0)
			return true;
	return false;
}

/* A child that keeps @id from being deleted, or NULL. */
static const char *restore_child_of(const struct model_list *list, const char *id)
{
	size_t i, n = model_count(list);

	for (i = 0; i < n; i++) {
		const struct neon_branch *c = model_branch_at(list, i);

		if (strcmp(c->parent_id, id) == 0)
			return *c->name ? c->name : "(no name)";
	}
	return NULL;
}

/* Deletes the replaced branches beyond the @keep newest (@newest, this restore's, counts
 * first). Returns whether @newest was deleted. */
static bool restore_keep_old(struct api *api, const struct model_list *list,
			     const char *active_name, const char *active_id, const char *newest,
			     int keep, double deadline)
{
	size_t i, n = model_count(list), m = 0;
	struct restore_old *old = calloc(n ? n : 1, sizeof(*old));
	bool gone = false;

	if (!old) {
		log_warn("restore: replaced branches not cleaned up: out of memory");
		return false;
	}
	for (i = 0; i < n; i++) {
		const struct neon_branch *b = model_branch_at(list, i);

		if (strcmp(b->id, active_id) == 0 || !restore_is_replaced(list, b, active_name))
			continue;
		old[m].b = b;
		old[m].updated = b->updated_at;
		/* This restore's replaced branch is the newest whatever the clock says. */
		if (newest && strcmp(b->id, newest) == 0)
			old[m].updated = "~";
		m++;
	}
	qsort(old, m, sizeof(*old), restore_old_cmp);
	for (i = (size_t)keep; i < m; i++) {
		const struct neon_branch *b = old[i].b;
		struct model_answer *del = NULL;
		struct api_error err = { 0 };
		const char *child = restore_child_of(list, b->id);

		if (b->is_protected) {
			log_info("restore: replaced branch '%s' (%s) is kept: it is protected",
				 b->name, b->id);
			continue;
		}
		if (child) {
			log_info("restore: replaced branch '%s' (%s) is kept: branch '%s' is its child",
				 b->name, b->id, child);
			continue;
		}
		if (api_delete_branch(api, b->id, &del, &err) == 0 && del->nops)
			api_wait_operations(api, del->ops, del->nops, deadline - util_now(), NULL,
					    NULL, NULL, &err);
		if (err.err) {
			log_warn("restore: replaced branch '%s' (%s) is kept: %s", b->name, b->id,
				 err.message);
		} else {
			log_info("restore: replaced branch '%s' (%s) deleted (keep_old_branches=%d)",
				 b->name, b->id, keep);
			if (newest && strcmp(b->id, newest) == 0)
				gone = true;
		}
		model_answer_free(del);
	}
	free(old);
	return gone;
}

void restore_after(struct api *api, const struct restore_request *req, const char *replaced,
		   const char *preserve, const char *active_id, bool verified, double deadline,
		   char *undo, size_t undolen, char *note, size_t notelen)
{
	struct model_list *list = NULL;
	const struct neon_branch *kept;
	struct api_error err = { 0 };
	char id[64] = "", name[300] = "", which[400];
	bool gone = false;

	undo[0] = '\0';
	/* A snapshot restore that deletes nothing knows its undo without a listing: the
	 * branch it replaced is kept as it was, under another name. */
	if (!req->source_branch_id && !(verified && req->keep_old >= 0)) {
		snprintf(undo, undolen, "%s", replaced);
		snprintf(which, sizeof(which), "%s", replaced);
		goto offer;
	}
	if (api_list_branches(api, &list, &err) != 0) {
		util_msg(note, notelen, "the branches could not be listed to find the one to undo "
			 "from: %s", err.message);
		return;
	}
	kept = req->source_branch_id ? (preserve ? restore_branch_named(list, preserve) : NULL) :
				       model_branch_by_id(list, replaced);
	if (kept) {
		snprintf(id, sizeof(id), "%s", kept->id);
		snprintf(name, sizeof(name), "'%.256s' ", kept->name);
	}
	if (verified && req->keep_old >= 0)
		gone = restore_keep_old(api, list, req->branch_name, active_id, id[0] ? id : NULL,
					req->keep_old, deadline);
	model_list_put(list);
	if (!id[0]) {
		util_msg(note, notelen, "no undo: the branch that holds the state before this "
			 "restore is not there any more");
		return;
	}
	if (gone) {
		util_msg(note, notelen, "no undo: the branch that held the state before this "
			 "restore, %s(%s), was deleted (keep_old_branches=%d); restore a "
			 "snapshot instead", name, id, req->keep_old);
		return;
	}
	snprintf(undo, undolen, "%s", id);
	snprintf(which, sizeof(which), "%s(%s)", name, id);
offer:
	util_msg(note, notelen, "writing the undo text restores %s, through the same connection "
		 "string, to the head of branch %s, the state just before this restore (Neon's "
		 "branch restore); the state it replaces is kept as a new branch, which the next "
		 "undo names, and %s becomes %s's parent, so it cannot be deleted while %s has "
		 "that data; the undo fails once %s is deleted", req->branch_name, which, undo,
		 req->branch_name, req->branch_name, undo);
}
