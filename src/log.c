/* log: timestamped lines on stderr, and in syslog once neonfs runs as a daemon.
 *
 * Each message is formatted into a local buffer first and written with one
 * call under a lock, so lines from concurrent FUSE threads never interleave. */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <syslog.h>

#include "log.h"

#define LOG_LINE_MAX 2048

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
/* Read without the lock on every call, so that filtered messages cost nothing. */
static atomic_int log_threshold = LOG_LEVEL_INFO;
static int log_syslog_open;

static const char *const log_names[] = { "ERROR", "WARN", "INFO", "DEBUG" };
static const int log_priorities[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

void log_init(enum log_level level, int use_syslog)
{
	atomic_store(&log_threshold, (int)level);
	pthread_mutex_lock(&log_lock);
	if (use_syslog && !log_syslog_open) {
		openlog("neonfs", LOG_PID, LOG_DAEMON);
		log_syslog_open = 1;
	} else if (!use_syslog && log_syslog_open) {
		closelog();
		log_syslog_open = 0;
	}
	pthread_mutex_unlock(&log_lock);
}

/* Server messages end up in logs; a newline in one must not forge a log line. */
static void log_sanitize(char *s)
{
	size_t len = strlen(s);

	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		s[--len] = '\0';
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 && *s != '\t')
			*s = ' ';
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int idx = (int)level;
	int n;

	if (idx < (int)LOG_LEVEL_ERR)
		idx = LOG_LEVEL_ERR;
	if (idx > (int)LOG_LEVEL_DEBUG)
		idx = LOG_LEVEL_DEBUG;
	if (idx > atomic_load(&log_threshold))
		return;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		snprintf(line, sizeof(line), "(unformattable log message)");
	else if ((size_t)n >= sizeof(line))
		memcpy(line + sizeof(line) - 4, "...", 4);
	log_sanitize(line);

	clock_gettime(CLOCK_REALTIME, &ts);
	if (!localtime_r(&ts.tv_sec, &tm) ||
	    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(stamp, sizeof(stamp), "%lld", (long long)ts.tv_sec);

	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s.%03ld neonfs %-5s %s\n", stamp, ts.tv_nsec / 1000000L,
		log_names[idx], line);
	fflush(stderr);
	if (log_syslog_open)
		syslog(log_priorities[idx], "%s", line);
	pthread_mutex_unlock(&log_lock);
}
