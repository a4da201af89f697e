/* schema_sql: the catalog queries of a schema dump, and the SQL fragments they are built of.
 *
 * Each query reads one kind of object as ready-made units of DDL; schema.c orders and writes
 * them. */
#include "config.h"

#include "schema_internal.h"

/* Phases: the coarse order of the text; dependencies may still pull a unit earlier. */
enum {
	PH_SCHEMA = 0,
	PH_EXTENSION = 1,
	PH_TYPE = 2,
	PH_FUNCTION = 3,
	PH_SEQUENCE = 4,
	PH_TABLE = 5,		/* tables with their constraints, indexes, triggers */
	PH_VIEW = 6,		/* views, materialized views and theirs */
	PH_FOREIGN_KEY = 7,
};

/* A relation's sub-objects follow it: sub-kind order within its group. */
#define SUB_SELF	"0"
#define SUB_CONSTRAINT	"1"
#define SUB_INDEX	"2"
#define SUB_OWNED_BY	"3"
#define SUB_TRIGGER	"4"
#define SUB_POLICY	"5"

/* Schemas that belong to the system, not to the user. */
#define USER_NSP " n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' "

/* Objects created by an extension are the extension's, not the user's. */
#define NOT_EXT(cat, oid) \
	" NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = '" cat "'::regclass" \
	" AND x.objid = " oid " AND x.deptype = 'e') "

/* Objects made by and for another one (a range type's constructors) are that one's. */
#define NOT_INTERNAL(cat, oid) \
	" NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = '" cat "'::regclass" \
	" AND x.objid = " oid " AND x.deptype = 'i') "

/* ' COMMENT ON <kind> <target> IS ...;' on its own line, or '' without a comment. */
#define COMMENT(kind, target, descr) \
	" coalesce(E'\\nCOMMENT ON ' || " kind " || ' ' || " target \
	" || ' IS ' || quote_literal(" descr ") || ';', '') "

#define QNAME(nsp, name) " format('%I.%I', " nsp ", " name ") "

/* A COLLATE clause when @coll differs from the default collation of type @typ. */
#define COLLATE(coll, typ) \
	" CASE WHEN " coll " <> 0 AND " coll " IS DISTINCT FROM" \
	" (SELECT ty.typcollation FROM pg_type ty WHERE ty.oid = " typ ")" \
	" THEN (SELECT ' COLLATE ' || format('%I.%I', cn.nspname, co.collname)" \
	" FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace" \
	" WHERE co.oid = " coll ") ELSE '' END "

/* The group (phase) of a relation's sub-objects. */
#define REL_PHASE(c) " CASE WHEN " c ".relkind IN ('v', 'm') THEN 6 ELSE 5 END "

/* Every unit query returns: classid, objid, phase, schema, name, sub, subname, ddl, deps.
 * deps is NULL or "classid:objid ..." for edges pg_depend does not record. */

static const char schema_q_schemas[] =
	"SELECT 'pg_namespace'::regclass::oid, n.oid, 0, n.nspname, '', 0, '',"
	" format('CREATE SCHEMA %I;', n.nspname)"
	" || " COMMENT("'SCHEMA'", "quote_ident(n.nspname)",
		       "obj_description(n.oid, 'pg_namespace')") ","
	" NULL"
	" FROM pg_namespace n"
	" WHERE" USER_NSP "AND n.nspname <> 'public' AND" NOT_EXT("pg_namespace", "n.oid");

static const char schema_q_extensions[] =
	"SELECT 'pg_extension'::regclass::oid, e.oid, 1, n.nspname, e.extname, 0, '',"
	" format('CREATE EXTENSION IF NOT EXISTS %I WITH SCHEMA %I;', e.extname, n.nspname),"
	" NULL"
	" FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
	" WHERE e.extname <> 'plpgsql'";	/* in every database from the start */

static const char schema_q_enums[] =
	"SELECT 'pg_type'::regclass::oid, t.oid, 2, n.nspname, t.typname, 0, '',"
	" format(E'CREATE TYPE %I.%I AS ENUM (\\n%s\\n);', n.nspname, t.typname,"
	"  coalesce((SELECT string_agg(E'\\t' || quote_literal(e.enumlabel), E',\\n'"
	"   ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), ''))"
	" || " COMMENT("'TYPE'", QNAME("n.nspname", "t.typname"),
		       "obj_description(t.oid, 'pg_type')") ","
	" NULL"
	" FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
	" WHERE t.typtype = 'e' AND" USER_NSP "AND" NOT_EXT("pg_type", "t.oid");

static const char schema_q_composites[] =
	"SELECT 'pg_type'::regclass::oid, t.oid, 2, n.nspname, t.typname, 0, '',"
	" format(E'CREATE TYPE %I.%I AS (\\n%s\\n);', n.nspname, t.typname,"
	"  coalesce((SELECT string_agg(format(E'\\t%I %s', a.attname,"
	"   format_type(a.atttypid, a.atttypmod)) || " COLLATE("a.attcollation", "a.atttypid") ","
	"   E',\\n' ORDER BY a.attnum) FROM pg_attribute a"
	"   WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), ''))"
	" || " COMMENT("'TYPE'", QNAME("n.nspname", "t.typname"),
		       "obj_description(t.oid, 'pg_type')") ","
	" NULL"
	" FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
	" JOIN pg_class c ON c.oid = t.typrelid"
	" WHERE t.typtype = 'c' AND c.relkind = 'c' AND" USER_NSP
	" AND" NOT_EXT("pg_type", "t.oid");

static const char schema_q_domains[] =
	"SELECT 'pg_type'::regclass::oid, t.oid, 2, n.nspname, t.typname, 0, '',"
	" format('CREATE DOMAIN %I.%I AS %s', n.nspname, t.typname,"
	"  format_type(t.typbasetype, t.typtypmod))"
	" || " COLLATE("t.typcollation", "t.typbasetype")
	" || coalesce(' DEFAULT ' || pg_get_expr(t.typdefaultbin, 0), '')"
	" || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END"
	" || coalesce((SELECT string_agg(format(E'\\n\\tCONSTRAINT %I %s', con.conname,"
	"   pg_get_constraintdef(con.oid)), '' ORDER BY con.conname COLLATE \"C\")"
	"   FROM pg_constraint con WHERE con.contypid = t.oid AND con.contype = 'c'), '')"
	" || ';'"
	" || " COMMENT("'DOMAIN'", QNAME("n.nspname", "t.typname"),
		       "obj_description(t.oid, 'pg_type')") ","
	" NULL"
	" FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
	" WHERE t.typtype = 'd' AND" USER_NSP "AND" NOT_EXT("pg_type", "t.oid");

static const char schema_q_ranges[] =
	"SELECT 'pg_type'::regclass::oid, t.oid, 2, n.nspname, t.typname, 0, '',"
	" format('CREATE TYPE %I.%I AS RANGE (subtype = %s', n.nspname, t.typname,"
	"  format_type(r.rngsubtype, NULL))"
	" || coalesce((SELECT ', subtype_opclass = ' || format('%I.%I', ocn.nspname, oc.opcname)"
	"   FROM pg_opclass oc JOIN pg_namespace ocn ON ocn.oid = oc.opcnamespace"
	"   WHERE oc.oid = r.rngsubopc AND NOT oc.opcdefault), '')"
	" || CASE WHEN r.rngcollation <> 0 AND r.rngcollation IS DISTINCT FROM"
	"   (SELECT ty.typcollation FROM pg_type ty WHERE ty.oid = r.rngsubtype)"
	"   THEN (SELECT ', collation = ' || format('%I.%I', cn.nspname, co.collname)"
	"   FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace"
	"   WHERE co.oid = r.rngcollation) ELSE '' END"
	" || CASE WHEN r.rngsubdiff <> 0 THEN ', subtype_diff = ' || r.rngsubdiff::regproc::text"
	"   ELSE '' END"
	" || coalesce((SELECT ', multirange_type_name = ' || format('%I.%I', mn.nspname, m.typname)"
	"   FROM pg_type m JOIN pg_namespace mn ON mn.oid = m.typnamespace"
	"   WHERE m.oid = r.rngmultitypid), '')"
	" || ');'"
	" || " COMMENT("'TYPE'", QNAME("n.nspname", "t.typname"),
		       "obj_description(t.oid, 'pg_type')") ","
	" NULL"
	" FROM pg_range r JOIN pg_type t ON t.oid = r.rngtypid"
	" JOIN pg_namespace n ON n.oid = t.typnamespace"
	" WHERE" USER_NSP "AND" NOT_EXT("pg_type", "t.oid");

static const char schema_q_functions[] =
	"SELECT 'pg_proc'::regclass::oid, p.oid, 3, n.nspname, p.proname, 0,"
	" pg_get_function_identity_arguments(p.oid),"
	" rtrim(pg_get_functiondef(p.oid), E'\\n') || ';'"
	" || " COMMENT("CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END",
		       "format('%I.%I(%s)', n.nspname, p.proname,"
		       " pg_get_function_identity_arguments(p.oid))",
		       "obj_description(p.oid, 'pg_proc')") ","
	" NULL"
	" FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
	" WHERE p.prokind IN ('f', 'p', 'w') AND" USER_NSP "AND" NOT_EXT("pg_proc", "p.oid")
	" AND" NOT_INTERNAL("pg_proc", "p.oid");

/* Standalone sequences; an identity column's sequence is part of its table. */
static const char schema_q_sequences[] =
	"SELECT 'pg_class'::regclass::oid, c.oid, 4, n.nspname, c.relname, 0, '',"
	" format(E'CREATE %sSEQUENCE %I.%I\\n\\tAS %s\\n\\tINCREMENT BY %s\\n\\tMINVALUE %s"
	"\\n\\tMAXVALUE %s\\n\\tSTART WITH %s\\n\\tCACHE %s\\n\\t%s;',"
	"  CASE WHEN c.relpersistence = 'u' THEN 'UNLOGGED ' ELSE '' END,"
	"  n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin,"
	"  s.seqmax, s.seqstart, s.seqcache, CASE WHEN s.seqcycle THEN 'CYCLE' ELSE 'NO CYCLE' END)"
	" || " COMMENT("'SEQUENCE'", QNAME("n.nspname", "c.relname"),
		       "obj_description(c.oid, 'pg_class')") ","
	" NULL"
	" FROM pg_class c JOIN pg_sequence s ON s.seqrelid = c.oid"
	" JOIN pg_namespace n ON n.oid = c.relnamespace"
	" WHERE c.relkind = 'S' AND" USER_NSP "AND" NOT_EXT("pg_class", "c.oid")
	" AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass"
	"  AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'i')";

/* A serial column's sequence: OWNED BY once both exist. */
static const char schema_q_owned_by[] =
	"SELECT 0::oid, s.oid, " REL_PHASE("t") ", tn.nspname, t.relname, " SUB_OWNED_BY ","
	" s.relname,"
	" format('ALTER SEQUENCE %I.%I OWNED BY %I.%I.%I;', n.nspname, s.relname,"
	"  tn.nspname, t.relname, a.attname),"
	" format('%s:%s %s:%s', 'pg_class'::regclass::oid, s.oid,"
	"  'pg_class'::regclass::oid, t.oid)"
	" FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'"
	" JOIN pg_namespace n ON n.oid = s.relnamespace"
	" JOIN pg_class t ON t.oid = d.refobjid"
	" JOIN pg_namespace tn ON tn.oid = t.relnamespace"
	" JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid"
	" WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass"
	" AND d.deptype = 'a' AND" USER_NSP "AND" NOT_EXT("pg_class", "s.oid")
	" AND" NOT_EXT("pg_class", "t.oid");

/* Identity options that differ from what a bare GENERATED ... AS IDENTITY gives. */
#define IDENTITY_OPTS \
	" coalesce((SELECT ' (' || nullif(concat_ws(' '," \
	"   CASE WHEN s.seqincrement <> 1 THEN 'INCREMENT BY ' || s.seqincrement END," \
	"   CASE WHEN s.seqmin <> CASE WHEN s.seqincrement > 0 THEN 1 ELSE -m.tmax - 1 END" \
	"    THEN 'MINVALUE ' || s.seqmin END," \
	"   CASE WHEN s.seqmax <> CASE WHEN s.seqincrement > 0 THEN m.tmax ELSE -1 END" \
	"    THEN 'MAXVALUE ' || s.seqmax END," \
	"   CASE WHEN s.seqstart <> CASE WHEN s.seqincrement > 0 THEN s.seqmin ELSE s.seqmax END" \
	"    THEN 'START WITH ' || s.seqstart END," \
	"   CASE WHEN s.seqcache <> 1 THEN 'CACHE ' || s.seqcache END," \
	"   CASE WHEN s.seqcycle THEN 'CYCLE' END), '') || ')'" \
	"  FROM pg_depend d JOIN pg_sequence s ON s.seqrelid = d.objid" \
	"  CROSS JOIN LATERAL (SELECT CASE s.seqtypid WHEN 'int2'::regtype THEN 32767::int8" \
	"   WHEN 'int4'::regtype THEN 2147483647::int8 ELSE 9223372036854775807::int8 END" \
	"   AS tmax) m" \
	"  WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass" \
	"  AND d.refobjid = a.attrelid AND d.refobjsubid = a.attnum AND d.deptype = 'i'" \
	"  LIMIT 1), '') "

#define COLUMN_LINE \
	" format(E'\\t%I %s', a.attname, format_type(a.atttypid, a.atttypmod))" \
	" || " COLLATE("a.attcollation", "a.atttypid") \
	" || CASE WHEN a.attgenerated = 's' THEN" \
	"   ' GENERATED ALWAYS AS (' || pg_get_expr(ad.adbin, ad.adrelid) || ') STORED'" \
	"  WHEN ad.adbin IS NOT NULL THEN ' DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid)" \
	"  ELSE '' END" \
	" || CASE a.attidentity WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY'" \
	"  WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' ELSE '' END" \
	" || CASE WHEN a.attidentity <> '' THEN" IDENTITY_OPTS "ELSE '' END" \
	" || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END"

static const char schema_q_tables[] =
	"SELECT 'pg_class'::regclass::oid, c.oid, 5, n.nspname, c.relname, 0, '',"
	" CASE WHEN c.relispartition THEN"
	"  format(E'CREATE %sTABLE %I.%I PARTITION OF %s\\n\\t%s',"
	"   CASE WHEN c.relpersistence = 'u' THEN 'UNLOGGED ' ELSE '' END, n.nspname, c.relname,"
	"   (SELECT format('%I.%I', pn.nspname, pc.relname) FROM pg_inherits i"
	"    JOIN pg_class pc ON pc.oid = i.inhparent"
	"    JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid),"
	"   pg_get_expr(c.relpartbound, c.oid))"
	" ELSE"
	"  format(E'CREATE %sTABLE %I.%I (\\n%s\\n)',"
	"   CASE WHEN c.relpersistence = 'u' THEN 'UNLOGGED ' ELSE '' END, n.nspname, c.relname,"
	"   coalesce((SELECT string_agg(" COLUMN_LINE ", E',\\n' ORDER BY a.attnum)"
	"    FROM pg_attribute a LEFT JOIN pg_attrdef ad"
	"     ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum"
	"    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
	"     AND a.attislocal), ''))"
	"  || coalesce(' INHERITS (' || (SELECT string_agg(format('%I.%I', pn.nspname,"
	"    pc.relname), ', ' ORDER BY i.inhseqno) FROM pg_inherits i"
	"    JOIN pg_class pc ON pc.oid = i.inhparent"
	"    JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid) || ')', '')"
	" END"
	" || CASE WHEN c.relkind = 'p' THEN ' PARTITION BY ' || pg_get_partkeydef(c.oid) ELSE '' END"
	" || coalesce(' WITH (' || array_to_string(c.reloptions, ', ') || ')', '')"
	" || ';'"
	" || CASE WHEN c.relrowsecurity THEN E'\\nALTER TABLE ' || " QNAME("n.nspname", "c.relname")
	"   || ' ENABLE ROW LEVEL SECURITY;' ELSE '' END"
	" || CASE WHEN c.relforcerowsecurity THEN E'\\nALTER TABLE ' || "
	QNAME("n.nspname", "c.relname") " || ' FORCE ROW LEVEL SECURITY;' ELSE '' END"
	" || " COMMENT("'TABLE'", QNAME("n.nspname", "c.relname"),
		       "obj_description(c.oid, 'pg_class')")
	" || coalesce((SELECT string_agg(E'\\nCOMMENT ON COLUMN ' || "
	QNAME("n.nspname", "c.relname") " || '.' || quote_ident(a.attname)"
	"   || ' IS ' || quote_literal(d.description) || ';', '' ORDER BY a.attnum)"
	"  FROM pg_description d JOIN pg_attribute a"
	"   ON a.attrelid = d.objoid AND a.attnum = d.objsubid"
	"  WHERE d.classoid = 'pg_class'::regclass AND d.objoid = c.oid AND d.objsubid > 0), ''),"
	" NULL"
	" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	" WHERE c.relkind IN ('r', 'p') AND" USER_NSP "AND" NOT_EXT("pg_class", "c.oid");

static const char schema_q_views[] =
	"SELECT 'pg_class'::regclass::oid, c.oid, 6, n.nspname, c.relname, 0, '',"
	" CASE c.relkind WHEN 'v' THEN"
	"  format(E'CREATE VIEW %I.%I%s AS\\n%s;', n.nspname, c.relname,"
	"   coalesce(' WITH (' || array_to_string(c.reloptions, ', ') || ')', ''),"
	"   rtrim(pg_get_viewdef(c.oid, true), E'; \\n'))"
	" ELSE"
	"  format(E'CREATE MATERIALIZED VIEW %I.%I%s AS\\n%s\\nWITH NO DATA;', n.nspname,"
	"   c.relname, coalesce(' WITH (' || array_to_string(c.reloptions, ', ') || ')', ''),"
	"   rtrim(pg_get_viewdef(c.oid, true), E'; \\n'))"
	" END"
	" || " COMMENT("CASE c.relkind WHEN 'v' THEN 'VIEW' ELSE 'MATERIALIZED VIEW' END",
		       QNAME("n.nspname", "c.relname"), "obj_description(c.oid, 'pg_class')")
	" || coalesce((SELECT string_agg(E'\\nCOMMENT ON COLUMN ' || "
	QNAME("n.nspname", "c.relname") " || '.' || quote_ident(a.attname)"
	"   || ' IS ' || quote_literal(d.description) || ';', '' ORDER BY a.attnum)"
	"  FROM pg_description d JOIN pg_attribute a"
	"   ON a.attrelid = d.objoid AND a.attnum = d.objsubid"
	"  WHERE d.classoid = 'pg_class'::regclass AND d.objoid = c.oid AND d.objsubid > 0), ''),"
	" NULL"
	" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	" WHERE c.relkind IN ('v', 'm') AND" USER_NSP "AND" NOT_EXT("pg_class", "c.oid");

/* Constraints of tables, except copies a partition or child got from its parent (the
 * parent's constraint recreates them) and constraint triggers (rendered as triggers). */
static const char schema_q_constraints[] =
	"SELECT 'pg_constraint'::regclass::oid, con.oid,"
	" CASE WHEN con.contype = 'f' THEN 7 ELSE " REL_PHASE("c") " END,"
	" n.nspname, c.relname, CASE WHEN con.contype = 'f' THEN 0 ELSE " SUB_CONSTRAINT " END,"
	" con.conname,"
	" format('ALTER TABLE %I.%I ADD CONSTRAINT %I %s;', n.nspname, c.relname, con.conname,"
	"  pg_get_constraintdef(con.oid))"
	" || " COMMENT("'CONSTRAINT'", "quote_ident(con.conname) || ' ON ' || "
		       QNAME("n.nspname", "c.relname"),
		       "obj_description(con.oid, 'pg_constraint')") ","
	" NULL"
	" FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid"
	" JOIN pg_namespace n ON n.oid = c.relnamespace"
	" WHERE con.contype IN ('p', 'u', 'c', 'f', 'x') AND con.conparentid = 0"
	" AND con.conislocal AND" USER_NSP "AND" NOT_EXT("pg_class", "c.oid");

/* Indexes of their own: not behind a constraint, not a partition's copy of its parent's. */
static const char schema_q_indexes[] =
	"SELECT 'pg_class'::regclass::oid, i.indexrelid, " REL_PHASE("t") ", n.nspname,"
	" t.relname, " SUB_INDEX ", ic.relname,"
	/* An index on a partitioned table reads "ON ONLY", which would leave out the
	 * partitions; replaying it without ONLY builds them as the original was. */
	" CASE WHEN t.relkind = 'p' AND left(x.def, length(x.pre)) = x.pre"
	"  THEN left(x.pre, -5) || substr(x.def, length(x.pre) + 1) ELSE x.def END || ';'"
	" || " COMMENT("'INDEX'", QNAME("n.nspname", "ic.relname"),
		       "obj_description(ic.oid, 'pg_class')") ","
	" NULL"
	" FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid"
	" JOIN pg_class t ON t.oid = i.indrelid"
	" JOIN pg_namespace n ON n.oid = ic.relnamespace"
	" CROSS JOIN LATERAL (SELECT pg_get_indexdef(i.indexrelid) AS def,"
	"  'CREATE ' || CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END || 'INDEX '"
	"  || quote_ident(ic.relname) || ' ON ONLY ' AS pre) x"
	" WHERE t.relkind IN ('r', 'p', 'm') AND" USER_NSP "AND" NOT_EXT("pg_class", "t.oid")
	" AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid"
	"  AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x'))"
	" AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)";

static const char schema_q_triggers[] =
	"SELECT 'pg_trigger'::regclass::oid, tg.oid, " REL_PHASE("c") ", n.nspname, c.relname,"
	" " SUB_TRIGGER ", tg.tgname,"
	" pg_get_triggerdef(tg.oid) || ';'"
	" || CASE tg.tgenabled"
	"  WHEN 'D' THEN format(E'\\nALTER TABLE %I.%I DISABLE TRIGGER %I;', n.nspname, c.relname,"
	"   tg.tgname)"
	"  WHEN 'R' THEN format(E'\\nALTER TABLE %I.%I ENABLE REPLICA TRIGGER %I;', n.nspname,"
	"   c.relname, tg.tgname)"
	"  WHEN 'A' THEN format(E'\\nALTER TABLE %I.%I ENABLE ALWAYS TRIGGER %I;', n.nspname,"
	"   c.relname, tg.tgname)"
	"  ELSE '' END"
	" || " COMMENT("'TRIGGER'", "quote_ident(tg.tgname) || ' ON ' || "
		       QNAME("n.nspname", "c.relname"),
		       "obj_description(tg.oid, 'pg_trigger')") ","
	" NULL"
	" FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid"
	" JOIN pg_namespace n ON n.oid = c.relnamespace"
	" WHERE NOT tg.tgisinternal AND tg.tgparentid = 0 AND" USER_NSP
	" AND" NOT_EXT("pg_class", "c.oid");

/* Row-level security policies; roles by name, PUBLIC for none, in byte order. */
static const char schema_q_policies[] =
	"SELECT 'pg_policy'::regclass::oid, pol.oid, " REL_PHASE("c") ", n.nspname, c.relname,"
	" " SUB_POLICY ", pol.polname,"
	" format('CREATE POLICY %I ON %I.%I', pol.polname, n.nspname, c.relname)"
	" || CASE WHEN pol.polpermissive THEN '' ELSE ' AS RESTRICTIVE' END"
	" || CASE pol.polcmd WHEN 'r' THEN ' FOR SELECT' WHEN 'a' THEN ' FOR INSERT'"
	"  WHEN 'w' THEN ' FOR UPDATE' WHEN 'd' THEN ' FOR DELETE' ELSE '' END"
	" || coalesce(' TO ' || (SELECT string_agg(x.role, ', ' ORDER BY x.role COLLATE \"C\")"
	"  FROM (SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r)) END"
	"  AS role FROM unnest(pol.polroles) r) x), '')"
	" || coalesce(' USING (' || pg_get_expr(pol.polqual, pol.polrelid) || ')', '')"
	" || coalesce(' WITH CHECK (' || pg_get_expr(pol.polwithcheck, pol.polrelid) || ')', '')"
	" || ';'"
	" || " COMMENT("'POLICY'", "quote_ident(pol.polname) || ' ON ' || "
		       QNAME("n.nspname", "c.relname"),
		       "obj_description(pol.oid, 'pg_policy')") ","
	" NULL"
	" FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid"
	" JOIN pg_namespace n ON n.oid = c.relnamespace"
	" WHERE" USER_NSP "AND" NOT_EXT("pg_class", "c.oid");

const char *const schema_unit_queries[] = {
	schema_q_schemas, schema_q_extensions, schema_q_enums, schema_q_composites,
	schema_q_domains, schema_q_ranges, schema_q_functions, schema_q_sequences,
	schema_q_owned_by, schema_q_tables, schema_q_views, schema_q_constraints,
	schema_q_indexes, schema_q_triggers, schema_q_policies,
};
_Static_assert(sizeof(schema_unit_queries) / sizeof(schema_unit_queries[0]) ==
	       SCHEMA_NUNIT_QUERIES, "every unit query listed");

/* Catalog objects that are part of a unit without being one: (classid, objid) belongs to
 * (owner classid, owner objid), possibly through another such row. */
const char schema_q_parts[] =
	"SELECT 'pg_type'::regclass::oid, t.typarray, 'pg_type'::regclass::oid, t.oid"
	" FROM pg_type t WHERE t.typarray <> 0 AND t.oid >= 16384"
	" UNION ALL"
	" SELECT 'pg_type'::regclass::oid, c.reltype, 'pg_class'::regclass::oid, c.oid"
	" FROM pg_class c WHERE c.reltype <> 0 AND c.relkind <> 'c' AND c.oid >= 16384"
	" UNION ALL"
	" SELECT 'pg_class'::regclass::oid, t.typrelid, 'pg_type'::regclass::oid, t.oid"
	" FROM pg_type t WHERE t.typtype = 'c' AND t.typrelid <> 0 AND t.oid >= 16384"
	" UNION ALL"
	" SELECT 'pg_attrdef'::regclass::oid, ad.oid, 'pg_class'::regclass::oid, ad.adrelid"
	" FROM pg_attrdef ad"
	" UNION ALL"
	" SELECT 'pg_rewrite'::regclass::oid, r.oid, 'pg_class'::regclass::oid, r.ev_class"
	" FROM pg_rewrite r WHERE r.oid >= 16384"
	" UNION ALL"
	" SELECT 'pg_constraint'::regclass::oid, con.oid, 'pg_type'::regclass::oid, con.contypid"
	" FROM pg_constraint con WHERE con.contypid <> 0"
	" UNION ALL"
	" SELECT 'pg_class'::regclass::oid, con.conindid, 'pg_constraint'::regclass::oid, con.oid"
	" FROM pg_constraint con WHERE con.contype IN ('p', 'u', 'x') AND con.conindid <> 0"
	" UNION ALL"
	" SELECT 'pg_type'::regclass::oid, r.rngmultitypid, 'pg_type'::regclass::oid, r.rngtypid"
	" FROM pg_range r WHERE r.rngmultitypid <> 0"
	" UNION ALL"
	" SELECT d.classid, d.objid, d.refclassid, d.refobjid FROM pg_depend d"
	" WHERE d.deptype = 'i'"	/* e.g. an identity column's sequence is its table's */
	" UNION ALL"
	" SELECT d.classid, d.objid, d.refclassid, d.refobjid FROM pg_depend d"
	" WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'";

/* What depends on what among user objects. A serial sequence's link to its column is left
 * out: the column's default needs the sequence first, OWNED BY follows both. */
const char schema_q_edges[] =
	"SELECT d.classid, d.objid, d.refclassid, d.refobjid FROM pg_depend d"
	" WHERE d.deptype IN ('n', 'a', 'i', 'P', 'S')"
	" AND d.objid >= 16384 AND d.refobjid >= 16384"
	" AND NOT (d.deptype = 'a' AND d.classid = 'pg_class'::regclass"
	"  AND d.refclassid = 'pg_class'::regclass"
	"  AND EXISTS (SELECT 1 FROM pg_class s WHERE s.oid = d.objid AND s.relkind = 'S'))"
	" UNION ALL"
	" SELECT 'pg_class'::regclass::oid, h.inhrelid, 'pg_class'::regclass::oid, h.inhparent"
	" FROM pg_inherits h WHERE h.inhrelid >= 16384";

/* Output settings that would otherwise leak into the text: names qualified the same way,
 * constants in defaults and partition bounds printed the same way. */
const char schema_q_settings[] =
	"SELECT set_config('search_path', '', true), set_config('DateStyle', 'ISO, YMD', true),"
	" set_config('IntervalStyle', 'postgres', true), set_config('TimeZone', 'UTC', true),"
	" set_config('extra_float_digits', '1', true), set_config('bytea_output', 'hex', true),"
	" set_config('quote_all_identifiers', 'off', true), current_database(),"
	" CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()"
	"  ELSE pg_current_wal_lsn() END::text";
