/* neon: Neon's API in the model's types (the calls of api.h, parsed by model.h).
 *
 * Callers above this line never see JSON: a listing is a model_list, an action's answer is
 * a neon_answer that gives its object and waits for its operations. */
#ifndef NEONFS_NEON_H
#define NEONFS_NEON_H

#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "model.h"

/* One listing, every page of it: 0 and a new list, or -errno with words in @err. */
int neon_list(struct api *a, enum model_kind kind, struct model_list **out,
	      struct api_error *err);

/* Every project of the organization of @a (an organization's client), @page a call. */
int neon_list_projects(struct api *a, int page, struct model_list **out, struct api_error *err);

/* What a mutating call answered: its object and the operations it started. */
struct neon_answer;

int neon_create_snapshot(struct api *a, const char *branch_id, const char *name,
			 const char *lsn, const char *expires_at, struct neon_answer **ans,
			 struct api_error *err);
/* Sets (RFC 3339) or clears (NULL) the time Neon deletes the snapshot. */
int neon_expire_snapshot(struct api *a, const char *snapshot_id, const char *expires_at,
			 struct neon_answer **ans, struct api_error *err);
int neon_rename_snapshot(struct api *a, const char *snapshot_id, const char *name,
			 struct neon_answer **ans, struct api_error *err);
int neon_delete_snapshot(struct api *a, const char *snapshot_id, struct neon_answer **ans,
			 struct api_error *err);
/* A new branch @name holding snapshot @snapshot_id, beside @target_branch_id (a preview,
 * not finalized). */
int neon_preview(struct api *a, const char *snapshot_id, const char *target_branch_id,
		 const char *name, struct neon_answer **ans, struct api_error *err);
int neon_create_branch(struct api *a, const char *parent_id, const char *name,
		       struct neon_answer **ans, struct api_error *err);
int neon_delete_branch(struct api *a, const char *branch_id, struct neon_answer **ans,
		       struct api_error *err);
int neon_create_endpoint(struct api *a, const char *branch_id, struct neon_answer **ans,
			 struct api_error *err);
/* A project of the organization of @a; its operations are waited for through a client of
 * the new project (api_for_project). */
int neon_create_project(struct api *a, const char *name, struct neon_answer **ans,
			struct api_error *err);
int neon_delete_project(struct api *a, const char *project_id, struct neon_answer **ans,
			struct api_error *err);

/* The answer's @key object ("snapshot", "branch", "endpoint", "project"): 0 and a new object, or
 * -EIO when the answer has none with an id. */
int neon_answer_object(const struct neon_answer *ans, const char *key, struct neon_object **out);
/* Does the answer hold an endpoint (Neon made a compute along with a branch)? */
bool neon_answer_has(const struct neon_answer *ans, const char *key);
/* Waits for every operation of the answer to end (api_wait_operations). */
int neon_answer_wait(struct api *a, const struct neon_answer *ans, double timeout_s,
		     struct api_error *err);
/* The same, with @progress called on each poll with the operations as last seen. */
int neon_answer_wait_progress(struct api *a, const struct neon_answer *ans, double timeout_s,
			      api_progress_fn progress, void *data, struct api_error *err);
void neon_answer_free(struct neon_answer *ans);

/* The database and role a mount speaks for on @branch_id: @want_db (NULL: the branch's
 * first database) and @want_role (NULL: that database's owner). 0, or -errno with words. */
int neon_pick_database(struct api *a, const char *branch_id, const char *want_db,
		       const char *want_role, char *db, size_t dblen, char *role, size_t rolelen,
		       char *msg, size_t msglen);

#endif
