/* log: one place where neonfs says what happened and why. */
#ifndef NEONFS_LOG_H
#define NEONFS_LOG_H

/* Named apart from syslog.h's LOG_* priorities, which a caller may also include. */
enum log_level { LOG_LEVEL_ERR = 0, LOG_LEVEL_WARN = 1, LOG_LEVEL_INFO = 2, LOG_LEVEL_DEBUG = 3 };

/* Messages at or below @level are written to stderr (and syslog once daemonized). */
void log_init(enum log_level level, int use_syslog);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
