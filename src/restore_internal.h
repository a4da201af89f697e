/* restore's parts that are not the run itself: what is sent to Neon (a snapshot restore,
 * or for an undo a branch restore), how an undo is seen to have landed, and what is left
 * after a verified restore (the replaced branches kept, the undo offered). */
#ifndef NEONFS_RESTORE_INTERNAL_H
#define NEONFS_RESTORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

struct api;
struct api_error;
struct model_answer;
struct restore_request;

/* A free name for the branch that keeps the state an undo replaces: "<name> (old)", or
 * "<name> (old N)" when that is taken. */
int restore_preserve_name(struct api *api, const char *branch_name, char *out, size_t len,
			  char *msg, size_t msglen);

/* The one call that restores into @target: snapshot restore (finalized) or, for an undo,
 * branch restore from @req->source_branch_id keeping the state until then as @preserve. */
int restore_send(struct api *api, const struct restore_request *req, const char *target,
		 const char *preserve, struct model_answer **resp, struct api_error *err);

/* An undo leaves the branch id as it was, so the endpoint check cannot tell it landed: the
 * branch must name the source as its parent, as Neon's branch restore makes it. 0 for a
 * snapshot restore. */
int restore_landed(struct api *api, const struct restore_request *req, const char *target,
		   char *msg, size_t msglen);

/* After the restore: with @req->keep_old >= 0 (and @verified), the replaced branches
 * beyond the newest keep_old are deleted (not one with children, nor a protected one);
 * then @undo gets what to write to active/restore to go back (the branch that holds the
 * state before this restore: @replaced for a snapshot restore, the branch named @preserve
 * for an undo), "" when there is none, and @note what it does or why there is none. */
void restore_after(struct api *api, const struct restore_request *req, const char *replaced,
		   const char *preserve, const char *active_id, bool verified, double deadline,
		   char *undo, size_t undolen, char *note, size_t notelen);

#endif
