/* org: an organization as its mount sees it: the listing of its projects (one API call per
 * page, once per cache window), the slot each project's tree is numbered from (tree.h),
 * and the two changes made at its root, a project created or deleted. No FUSE types, no
 * JSON. */
#ifndef NEONFS_ORG_H
#define NEONFS_ORG_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

struct api;
struct events;
struct org;

/* @api: the organization's client (api_org_id set); @ev: the root's events, where a
 * project created or deleted through the mount is told; @page: projects a listing call. */
struct org *org_new(struct api *api, struct events *ev, double cache_ttl, int page);
void org_free(struct org *o);

struct api *org_api(struct org *o);

/* Every project, as a MODEL_PROJECTS listing: 0 and a new reference, or -errno (logged). */
int org_projects(struct org *o, struct model_list **out);
void org_forget(struct org *o);

/* The slot of project @id, given on first ask and kept for the life of the mount, so an
 * inode number never means two projects. 0 when out of memory. */
uint32_t org_slot(struct org *o, const char *id);
/* The id of @slot into @buf: 0, or -ENOENT for a slot never given. */
int org_slot_id(struct org *o, uint32_t slot, char *buf, size_t len);

/* A project named @name; returns when its operations ended, with its id in @id. 0, or
 * -errno with words in @msg: EINVAL for a name that cannot be an entry or that Neon would
 * refuse, EEXIST for one that is listed already (Neon would take it, but the tree could
 * not show both). */
int org_create(struct org *o, const char *name, double timeout_s, char *id, size_t idlen,
	       char *msg, size_t msglen);
/* Deletes project @id with everything in it. */
int org_delete(struct org *o, const char *id, char *msg, size_t msglen);

#endif
