/* quota: Neon's limits as neonfs learns them. */
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "quota.h"

struct quota {
	pthread_mutex_t lock;
	long long limit[QUOTA_KINDS];     /* -1: unknown */
	char from[QUOTA_KINDS][8];
};

struct quota *quota_new(long long snapshot_limit)
{
	struct quota *q = calloc(1, sizeof(*q));
	int i;

	if (!q)
		return NULL;
	pthread_mutex_init(&q->lock, NULL);
	for (i = 0; i < QUOTA_KINDS; i++)
		q->limit[i] = -1;
	if (snapshot_limit > 0) {
		q->limit[QUOTA_SNAPSHOTS] = snapshot_limit;
		snprintf(q->from[QUOTA_SNAPSHOTS], sizeof(q->from[0]), "option");
	}
	return q;
}

void quota_free(struct quota *q)
{
	if (!q)
		return;
	pthread_mutex_destroy(&q->lock);
	free(q);
}

long long quota_limit(struct quota *q, enum quota_kind kind, char *from, size_t fromlen)
{
	long long v;

	pthread_mutex_lock(&q->lock);
	v = q->limit[kind];
	if (from)
		snprintf(from, fromlen, "%s", q->from[kind]);
	pthread_mutex_unlock(&q->lock);
	return v;
}

int quota_kind_of(const char *code)
{
	if (!code)
		return -1;
	if (strcmp(code, "SNAPSHOTS_LIMIT_EXCEEDED") == 0)
		return QUOTA_SNAPSHOTS;
	if (strcmp(code, "ROOT_BRANCHES_LIMIT_EXCEEDED") == 0)
		return QUOTA_ROOT_BRANCHES;
	return -1;
}

long long quota_number(const char *message)
{
	const char *p = message;

	/* Neon's messages are prose; the number that counts is the one after "limit". */
	while (p && (p = strcasestr(p, "limit")) != NULL) {
		const char *d = p + 5;
		long long v = 0;
		int skipped = 0;

		while (*d && !isdigit((unsigned char)*d) && skipped < 4 &&
		       (*d == ' ' || *d == ':' || *d == '=' || *d == '(' || *d == 'o' ||
			*d == 'f' || *d == 'i' || *d == 's')) {
			d++;
			skipped++;
		}
		if (isdigit((unsigned char)*d)) {
			for (; isdigit((unsigned char)*d) && v < 1000000000LL; d++)
				v = v * 10 + (*d - '0');
			return v;
		}
		p += 5;
	}
	return -1;
}

long long quota_learn(struct quota *q, enum quota_kind kind, const char *message,
		      long long used)
{
	long long v = quota_number(message);

	if (v < 0)
		v = used;
	pthread_mutex_lock(&q->lock);
	/* What Neon said is truer than what the mount was told. */
	q->limit[kind] = v;
	snprintf(q->from[kind], sizeof(q->from[0]), "error");
	pthread_mutex_unlock(&q->lock);
	return v;
}
