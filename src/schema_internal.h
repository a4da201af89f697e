/* schema_internal: what the schema module's own files share; only src/schema*.c include it.
 *
 * The module is split by concern: schema_sql.c holds the catalog queries (and the macros
 * they are built from), schema.c the ordering of the units, the rendering of the text and
 * the dump over libpq. None of this is part of the module's interface, which stays in
 * include/schema.h. */
#ifndef NEONFS_SCHEMA_INTERNAL_H
#define NEONFS_SCHEMA_INTERNAL_H

/* The unit queries, in the order a dump prepares them; their columns are described in
 * schema_sql.c, which checks the count against its array. */
#define SCHEMA_NUNIT_QUERIES 15
extern const char *const schema_unit_queries[];

/* Parts (classid, objid, owner classid, owner objid), edges (classid, objid, refclassid,
 * refobjid), and the settings that come first in the snapshot. */
extern const char schema_q_parts[];
extern const char schema_q_edges[];
extern const char schema_q_settings[];

#endif
