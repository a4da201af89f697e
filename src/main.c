/* neonfs: mount a Neon project so that its checkpoints are directories.
 *
 *   neonfs [-f] [-d] [-o option,...] [project-id] <mountpoint>
 *
 * The second form is what mount.fuse3 runs for `mount -t fuse.neonfs <project-id> <dir>`
 * and for an fstab line. `-o org=ID` (or `org:ID` as the source) mounts every project of an
 * organization instead, one directory each. The API key comes from NEON_API_KEY or -o key_file=, and the meta
 * database's password from the environment or a password file, never from the command
 * line, where every user can read them in ps or /proc/<pid>/cmdline. Everything that can
 * fail at start (the key, the project, the active branch, the meta database) is checked
 * before the mount is made and before daemonizing, so errors reach the terminal. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <fuse_lowlevel.h>
#include <libpq-fe.h>

#include "api.h"
#include "fs.h"
#include "log.h"
#include "meta.h"
#include "when.h"

struct main_opts {
	char *project;
	char *org;
	int allow_project_delete;
	int project_page;
	double project_idle;
	char *branch;
	char *database;
	char *role;
	char *meta_url;
	char *key_file;
	char *api_host;
	char *api_key_arg;
	double cache_ttl;
	double attr_timeout;
	double op_timeout;
	double pg_timeout;
	double pg_idle;
	double api_timeout;
	double api_rate;
	int clean_old_branches;
	char *keep_old_branches;
	unsigned long attachment_max;
	char *snapshot_ttl;
	long snapshot_limit;
	double poll_min;
	double poll_max;
	char *watch;
	int no_meta;
	char *positional[2];       /* [project-id] <mountpoint>, in the order given */
	int npositional;
	int too_many;
	int has_fsname;
	int has_subtype;
};

#define MAIN_OPT(t, p) { t, offsetof(struct main_opts, p), 1 }

enum { MAIN_KEY_DISCARD = 100, MAIN_KEY_FSNAME, MAIN_KEY_SUBTYPE };

static const struct fuse_opt main_opt_spec[] = {
	{ "project=%s", offsetof(struct main_opts, project), 0 },
	{ "org=%s", offsetof(struct main_opts, org), 0 },
	{ "project_page=%d", offsetof(struct main_opts, project_page), 0 },
	{ "project_idle=%lf", offsetof(struct main_opts, project_idle), 0 },
	{ "branch=%s", offsetof(struct main_opts, branch), 0 },
	{ "database=%s", offsetof(struct main_opts, database), 0 },
	{ "role=%s", offsetof(struct main_opts, role), 0 },
	{ "meta_url=%s", offsetof(struct main_opts, meta_url), 0 },
	{ "key_file=%s", offsetof(struct main_opts, key_file), 0 },
	{ "api_host=%s", offsetof(struct main_opts, api_host), 0 },
	{ "api_key=%s", offsetof(struct main_opts, api_key_arg), 0 },
	{ "cache_ttl=%lf", offsetof(struct main_opts, cache_ttl), 0 },
	{ "attr_timeout=%lf", offsetof(struct main_opts, attr_timeout), 0 },
	{ "op_timeout=%lf", offsetof(struct main_opts, op_timeout), 0 },
	{ "pg_timeout=%lf", offsetof(struct main_opts, pg_timeout), 0 },
	{ "pg_idle=%lf", offsetof(struct main_opts, pg_idle), 0 },
	{ "api_timeout=%lf", offsetof(struct main_opts, api_timeout), 0 },
	{ "api_rate=%lf", offsetof(struct main_opts, api_rate), 0 },
	{ "attachment_max=%lu", offsetof(struct main_opts, attachment_max), 0 },
	{ "snapshot_ttl=%s", offsetof(struct main_opts, snapshot_ttl), 0 },
	{ "snapshot_limit=%ld", offsetof(struct main_opts, snapshot_limit), 0 },
	{ "poll_min=%lf", offsetof(struct main_opts, poll_min), 0 },
	{ "poll_max=%lf", offsetof(struct main_opts, poll_max), 0 },
	{ "watch=%s", offsetof(struct main_opts, watch), 0 },
	{ "keep_old_branches=%s", offsetof(struct main_opts, keep_old_branches), 0 },
	MAIN_OPT("clean_old_branches", clean_old_branches),
	MAIN_OPT("no_meta", no_meta),
	MAIN_OPT("allow_project_delete", allow_project_delete),
	FUSE_OPT_KEY("fsname=", MAIN_KEY_FSNAME),
	FUSE_OPT_KEY("subtype=", MAIN_KEY_SUBTYPE),
	/* fstab noise, as sshfs accepts it */
	FUSE_OPT_KEY("auto", MAIN_KEY_DISCARD),
	FUSE_OPT_KEY("noauto", MAIN_KEY_DISCARD),
	FUSE_OPT_KEY("user", MAIN_KEY_DISCARD),
	FUSE_OPT_KEY("nouser", MAIN_KEY_DISCARD),
	FUSE_OPT_KEY("users", MAIN_KEY_DISCARD),
	FUSE_OPT_KEY("_netdev", MAIN_KEY_DISCARD),
	FUSE_OPT_END
};

/* Collects the words that are not options: libfuse takes only a mountpoint, and the
 * project id before it is ours. The mountpoint is handed back to libfuse afterwards. */
static int main_opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct main_opts *o = data;

	(void)outargs;
	if (key == MAIN_KEY_DISCARD)
		return 0;
	if (key == MAIN_KEY_FSNAME || key == MAIN_KEY_SUBTYPE) {
		*(key == MAIN_KEY_FSNAME ? &o->has_fsname : &o->has_subtype) = 1;
		return 1;
	}
	if (key != FUSE_OPT_KEY_NONOPT)
		return 1;
	if (o->npositional == 2) {
		o->too_many = 1;
		return 0;
	}
	o->positional[o->npositional] = strdup(arg);
	if (!o->positional[o->npositional])
		return -1;
	o->npositional++;
	return 0;
}

/* Keep in step with the OPTIONS of docs/neonfs.1.scd and README.md; a test compares them. */
static void main_usage(const char *prog)
{
	printf("usage: %s [options] [project-id] <mountpoint>\n"
	       "       %s [options] -o org=ORG_ID <mountpoint>\n\n", prog, prog);
	printf("Mounts a Neon project: snapshots/, branches/, active/ and events; or every\n"
	       "project of an organization, one directory each.\n\n"
	       "Environment:\n"
	       "    NEON_API_KEY           API key (or -o key_file=)\n"
	       "    NEON_PROJECT_ID        project id (or -o project=, or the project-id argument)\n"
	       "    NEON_ORG_ID            organization id, when no project is given (or -o org=)\n"
	       "    NEON_API_HOST          API base URL (or -o api_host=; default %s)\n"
	       "    NEONFS_META_URL        meta database for checkpoint records (or -o meta_url=)\n\n"
	       "neonfs options:\n"
	       "    -o project=ID          the Neon project to mount\n"
	       "    -o org=ID              mount every project of organization ID instead\n"
	       "    -o allow_project_delete  let rmdir <mnt>/<project> delete a project (org=)\n"
	       "    -o project_page=N      projects a listing call asks for (org=; 1 to 400,\n"
	       "                           default 400, Neon's largest page)\n"
	       "    -o project_idle=SECONDS  close a project unused this long, its caches,\n"
	       "                           watcher and connections (org=; default 300; 0: never)\n"
	       "    -o branch=NAME         the active branch (default: the project's default branch)\n"
	       "    -o database=NAME       the database schema and connection_uri speak for\n"
	       "    -o role=NAME           the role in connection_uri (default: the database owner)\n"
	       "    -o key_file=PATH       read the API key from PATH (first line; mode 0600 or\n"
	       "                           stricter)\n"
	       "    -o api_host=URL        API base URL, for where the environment is not passed on\n"
	       "    -o meta_url=URI        postgresql:// URI of the meta database, without a password\n"
	       "    -o no_meta             mount without a meta database\n"
	       "    -o cache_ttl=SECONDS   reuse listings this long (default 2)\n"
	       "    -o attr_timeout=SECONDS  kernel attribute and entry cache (default 1)\n"
	       "    -o op_timeout=SECONDS  wait this long for Neon operations (default 300)\n"
	       "    -o api_timeout=SECONDS retry transient API failures this long (default 60)\n"
	       "    -o api_rate=N          API calls a minute, for the whole mount (default 600;\n"
	       "                           0: no budget); polls give way to calls users wait for\n"
	       "    -o pg_timeout=SECONDS  libpq connect and statement timeout (default 10)\n"
	       "    -o pg_idle=SECONDS     close a database connection idle this long, so its\n"
	       "                           compute can suspend (default 60)\n"
	       "    -o keep_old_branches=N keep the N newest branches restores replaced; older\n"
	       "                           ones are deleted once a restore is verified (default:\n"
	       "                           keep all; 0: no undo is offered)\n"
	       "    -o clean_old_branches  keep_old_branches=0\n"
	       "    -o attachment_max=BYTES  largest attachment (default 16777216)\n"
	       "    -o snapshot_ttl=DURATION  each snapshot made here expires after DURATION\n"
	       "                           (7d, 12h, 30m)\n"
	       "    -o snapshot_limit=N    the project's snapshot limit, for limits and df -i\n"
	       "                           (Neon: 1 on Free plans, 100 on paid ones)\n"
	       "    -o poll_min=SECONDS    shortest remote-change poll interval (default 1)\n"
	       "    -o poll_max=SECONDS    longest remote-change poll interval (default 30)\n"
	       "    -o watch=auto|always   look for remote changes only while the mount is used or\n"
	       "                           events is followed (auto, the default), or always\n\n",
	       API_DEFAULT_BASE);
	printf("FUSE options:\n");
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

/* The first line of @path, without its newline. Like ssh with a private key, a file that
 * group or others can get at is refused: the key gives full control of the account. */
static char *main_read_key(const char *path)
{
	char buf[1024], *key;
	struct stat st;
	FILE *f;
	size_t len;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "neonfs: cannot read key file %s: %s\n", path, strerror(errno));
		return NULL;
	}
	/* fstat of the open file, so what is checked is what is read. */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "neonfs: key file %s is not a regular file\n", path);
		close(fd);
		return NULL;
	}
	if (st.st_mode & 077) {
		fprintf(stderr, "neonfs: key file %s is open to group or others (mode %04o), and it "
			"holds the API key to the whole Neon account; make it readable by its owner "
			"only: chmod 600 %s\n", path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return NULL;
	}
	f = fdopen(fd, "r");
	if (!f) {
		fprintf(stderr, "neonfs: cannot read key file %s: %s\n", path, strerror(errno));
		close(fd);
		return NULL;
	}
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		fprintf(stderr, "neonfs: key file %s is empty\n", path);
		return NULL;
	}
	fclose(f);
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	if (len == 0) {
		fprintf(stderr, "neonfs: key file %s is empty\n", path);
		return NULL;
	}
	key = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return key;
}

/* Whether a libpq connection string (URI or key=value) carries a password. */
static int main_has_password(const char *conninfo)
{
	PQconninfoOption *opts, *opt;
	char *err = NULL;
	int found = 0;

	opts = PQconninfoParse(conninfo, &err);
	if (!opts) {
		/* Unparsable: meta_open will say why; nothing can be told about a password. */
		PQfreemem(err);
		return 0;
	}
	for (opt = opts; opt->keyword; opt++)
		if (strcmp(opt->keyword, "password") == 0 && opt->val && *opt->val)
			found = 1;
	PQconninfoFree(opts);
	return found;
}

static const char *main_env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct main_opts o = {
		.cache_ttl = 2, .attr_timeout = 1, .op_timeout = 300, .pg_timeout = 10, .pg_idle = 60,
		.api_timeout = 60, .api_rate = 600, .attachment_max = 16u << 20, .poll_min = 1, .poll_max = 30,
		.project_idle = 300,
	};
	struct fuse_cmdline_opts cl;
	struct fuse_loop_config *loop = NULL;
	struct fuse_session *se = NULL;
	struct api_config acfg = { 0 };
	struct fs_config fcfg = { 0 };
	struct api *api = NULL;
	struct meta *meta = NULL;
	struct fs *fs = NULL;
	char *key = NULL, msg[1024] = "";
	const char *meta_url, *project = NULL, *source = NULL, *org = NULL;
	long long ttl = 0;
	int keep_old = -1;
	int ret = 1, i;

	memset(&cl, 0, sizeof(cl));
	if (fuse_opt_parse(&args, &o, main_opt_spec, main_opt_proc) == -1)
		goto out_args;
	if (o.too_many) {
		fprintf(stderr, "usage: %s [options] [project-id] <mountpoint>\n"
			"       %s --help for the options\n", argv[0], argv[0]);
		goto out_args;
	}
	if (o.npositional == 2)
		source = o.positional[0];
	if (o.npositional > 0 &&
	    fuse_opt_add_arg(&args, o.positional[o.npositional - 1]) != 0)
		goto out_args;
	/* The kernel checks every access against the modes shown, so that with allow_other
	 * nobody but the owner reads connection_uri or changes anything. */
	if (fuse_opt_add_arg(&args, "-odefault_permissions") != 0)
		goto out_args;
	if (fuse_parse_cmdline(&args, &cl) != 0)
		goto out_args;
	if (cl.show_help) {
		main_usage(argv[0]);
		ret = 0;
		goto out_args;
	}
	if (cl.show_version) {
		printf("neonfs %s\n", NEONFS_VERSION);
		fuse_lowlevel_version();
		ret = 0;
		goto out_args;
	}
	log_init(cl.debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, 0);
	if (o.api_key_arg) {
		fprintf(stderr, "neonfs: the API key must not be given on the command line, where "
			"every user can read it; set NEON_API_KEY or use -o key_file=\n");
		goto out_args;
	}
	if (o.meta_url && main_has_password(o.meta_url)) {
		fprintf(stderr, "neonfs: -o meta_url= must not carry a password, which every user "
			"can read on the command line; leave it out of the URI and put it in "
			"~/.pgpass or a file named by PGPASSFILE (or passfile= in the URI), or give "
			"the whole URI in NEONFS_META_URL\n");
		goto out_args;
	}
	if (o.snapshot_ttl && when_duration(o.snapshot_ttl, &ttl, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "neonfs: -o snapshot_ttl=: %s\n", msg);
		goto out_args;
	}
	if (o.clean_old_branches)
		keep_old = 0;
	if (o.keep_old_branches) {
		char *end = NULL;
		long n = strtol(o.keep_old_branches, &end, 10);

		if (!*o.keep_old_branches || *end || n < 0 || n > 100000 ||
		    (o.clean_old_branches && n != 0)) {
			fprintf(stderr, "neonfs: -o keep_old_branches= takes a count of branches "
				"(0 is clean_old_branches), not %s\n", o.keep_old_branches);
			goto out_args;
		}
		keep_old = (int)n;
	}
	if (o.snapshot_limit < 0) {
		fprintf(stderr, "neonfs: -o snapshot_limit= must be a count of snapshots\n");
		goto out_args;
	}
	if (!cl.mountpoint) {
		fprintf(stderr, "usage: %s [options] [project-id] <mountpoint>\n"
			"       %s --help for the options\n", argv[0], argv[0]);
		goto out_args;
	}
	if (o.cache_ttl < 0 || o.attr_timeout < 0 || o.op_timeout <= 0 || o.pg_timeout <= 0 ||
	    o.api_timeout <= 0 || o.poll_min <= 0 || o.poll_max < o.poll_min) {
		fprintf(stderr, "neonfs: timeouts must be positive and poll_min <= poll_max\n");
		goto out_args;
	}
	if (o.pg_idle <= 0) {
		fprintf(stderr, "neonfs: -o pg_idle= takes a number of seconds above 0\n");
		goto out_args;
	}
	if (o.api_rate < 0) {
		fprintf(stderr, "neonfs: -o api_rate= takes a number of calls a minute (0: no budget)\n");
		goto out_args;
	}
	if (o.watch && strcmp(o.watch, "auto") != 0 && strcmp(o.watch, "always") != 0) {
		fprintf(stderr, "neonfs: -o watch= takes auto or always, not %s\n", o.watch);
		goto out_args;
	}

	if (o.project_idle < 0) {
		fprintf(stderr, "neonfs: -o project_idle= takes a number of seconds (0: never)\n");
		goto out_args;
	}
	if (o.project_page < 0 || o.project_page > API_PROJECT_PAGE_MAX) {
		fprintf(stderr, "neonfs: -o project_page= takes 1 to %d projects\n",
			API_PROJECT_PAGE_MAX);
		goto out_args;
	}
	if (source && strncmp(source, "org:", 4) == 0) {
		if (o.org && strcmp(o.org, source + 4) != 0) {
			fprintf(stderr, "neonfs: two organizations given: %s and -o org=%s\n",
				source + 4, o.org);
			goto out_args;
		}
		org = source + 4;
		source = NULL;
		if (!*org) {
			fprintf(stderr, "neonfs: the organization id is empty\n");
			goto out_args;
		}
	} else if (o.org) {
		org = o.org;
	}
	if (org && (source || o.project)) {
		fprintf(stderr, "neonfs: both a project and an organization given; mount one "
			"project, or with -o org= all of them\n");
		goto out_args;
	}
	if (source && !*source) {
		fprintf(stderr, "neonfs: the project id is empty\n");
		goto out_args;
	}
	if (source && o.project && strcmp(source, o.project) != 0) {
		fprintf(stderr, "neonfs: two projects given: %s and -o project=%s\n", source, o.project);
		goto out_args;
	}
	key = o.key_file ? main_read_key(o.key_file) :
	      main_env("NEON_API_KEY") ? strdup(main_env("NEON_API_KEY")) : NULL;
	if (!key) {
		if (!o.key_file)
			fprintf(stderr, "neonfs: no API key: set NEON_API_KEY or use -o key_file=\n");
		goto out_args;
	}
	/* A project named anywhere comes first; the organization from the environment is
	 * only for when no project is given at all. */
	if (!org)
		project = source ? source : o.project ? o.project : main_env("NEON_PROJECT_ID");
	if (!org && !project)
		org = main_env("NEON_ORG_ID");
	if (!project && !org) {
		fprintf(stderr, "neonfs: no project: give it before the mountpoint, use -o project= "
			"or set NEON_PROJECT_ID (or, for an organization, -o org= or NEON_ORG_ID)\n");
		goto out_key;
	}

	/* The mount's type is fuse.neonfs and its source the project, as an fstab line names
	 * them, however neonfs was started, so that findmnt, df and systemd's mount units see
	 * what they were told to mount. */
	if (!o.has_subtype && fuse_opt_add_arg(&args, "-osubtype=neonfs") != 0)
		goto out_key;
	if (!o.has_fsname) {
		char fsname[300];

		snprintf(fsname, sizeof(fsname), "-ofsname=%s%s", org ? "org:" : "",
			 org ? org : project);
		if (strchr(org ? org : project, ',') || fuse_opt_add_arg(&args, fsname) != 0) {
			fprintf(stderr, "neonfs: bad %s id %s\n", org ? "organization" : "project",
				org ? org : project);
			goto out_key;
		}
	}

	acfg.base_url = o.api_host ? o.api_host :
			main_env("NEON_API_HOST") ? main_env("NEON_API_HOST") : API_DEFAULT_BASE;
	acfg.api_key = key;
	acfg.project_id = project;
	acfg.org_id = org;
	acfg.request_timeout_s = 30;
	acfg.retry_deadline_s = o.api_timeout;
	acfg.rate_per_minute = o.api_rate;
	api = api_new(&acfg);
	if (!api) {
		fprintf(stderr, "neonfs: cannot set up the API client\n");
		goto out_key;
	}

	meta_url = o.meta_url ? o.meta_url : main_env("NEONFS_META_URL");
	if (o.no_meta || !meta_url) {
		log_warn("no meta database (-o meta_url= or NEONFS_META_URL): snapshot schemas are "
			 "read through a temporary branch each time, and attachments and the "
			 "restore audit log are unavailable");
	} else {
		/* An organization's handle reads no records itself: each project's comes
		 * from it (meta_for_project), over its connections. */
		meta = meta_open(meta_url, org ? org : project, o.pg_timeout, msg, sizeof(msg));
		if (!meta)
			log_warn("meta database unavailable (%s): attachments, captured schemas "
				 "and the restore audit log are off for this mount", msg);
	}

	fcfg.branch = o.branch;
	fcfg.database = o.database;
	fcfg.role = o.role;
	fcfg.cache_ttl = o.cache_ttl;
	fcfg.attr_timeout = o.attr_timeout;
	fcfg.op_timeout = o.op_timeout;
	fcfg.pg_timeout = o.pg_timeout;
	fcfg.pg_idle = o.pg_idle;
	fcfg.keep_old_branches = keep_old;
	fcfg.attachment_max = o.attachment_max;
	fcfg.snapshot_ttl = ttl;
	fcfg.snapshot_limit = o.snapshot_limit;
	fcfg.poll_min = o.poll_min;
	fcfg.poll_max = o.poll_max;
	fcfg.watch_always = o.watch && strcmp(o.watch, "always") == 0;
	fcfg.org = org != NULL;
	fcfg.allow_project_delete = o.allow_project_delete;
	fcfg.project_page = o.project_page ? o.project_page : API_PROJECT_PAGE_MAX;
	fcfg.project_idle = o.project_idle;
	fs = fs_new(&fcfg, api, meta, msg, sizeof(msg));
	if (!fs) {
		fprintf(stderr, "neonfs: %s\n", msg);
		goto out_meta;
	}

	se = fuse_session_new(&args, fs_lowlevel_ops(), sizeof(*fs_lowlevel_ops()), fs);
	if (!se)
		goto out_fs;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, cl.mountpoint) != 0)
		goto out_signals;
	if (fuse_daemonize(cl.foreground) != 0)
		goto out_unmount;
	if (!cl.foreground)
		log_init(cl.debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, 1);
	if (fs_start(fs, se) != 0)
		goto out_unmount;
	log_info("mounted %s %s at %s", org ? "organization" : "project", org ? org : project,
		 cl.mountpoint);

	if (cl.singlethread) {
		ret = fuse_session_loop(se);
	} else {
		loop = fuse_loop_cfg_create();
		if (!loop)
			goto out_stop;
		fuse_loop_cfg_set_clone_fd(loop, cl.clone_fd);
		if (cl.max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(loop, cl.max_idle_threads);
		/* Restores and blocked readers of events hold a worker each; leave room. */
		fuse_loop_cfg_set_max_threads(loop, cl.max_threads > 0 && cl.max_threads <= 100000 ?
					      cl.max_threads : 64);
		ret = fuse_session_loop_mt(se, loop);
		fuse_loop_cfg_destroy(loop);
	}
	ret = ret ? 1 : 0;
out_stop:
	fs_stop(fs);
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_fs:
	fs_free(fs);
out_meta:
	meta_close(meta);
	api_free(api);
out_key:
	if (key) {
		memset(key, 0, strlen(key));
		free(key);
	}
out_args:
	free(cl.mountpoint);
	free(o.project);
	free(o.org);
	free(o.branch);
	free(o.database);
	free(o.role);
	free(o.meta_url);
	free(o.key_file);
	free(o.api_host);
	free(o.api_key_arg);
	free(o.watch);
	free(o.snapshot_ttl);
	free(o.keep_old_branches);
	for (i = 0; i < o.npositional; i++)
		free(o.positional[i]);
	fuse_opt_free_args(&args);
	return ret;
}
