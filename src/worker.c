/* worker: a bounded pool of threads for long actions. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "log.h"
#include "worker.h"

struct worker_job {
	struct worker_job *next;
	void (*run)(void *data);
	void *data;
};

struct worker_pool {
	pthread_mutex_t lock;
	pthread_cond_t ready;
	struct worker_job *head, *tail;
	pthread_t *threads;
	size_t nthreads;
	bool stopping;
};

static void *worker_main(void *arg)
{
	struct worker_pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct worker_job *j;

		while (!p->head && !p->stopping)
			pthread_cond_wait(&p->ready, &p->lock);
		j = p->head;
		if (!j)
			break;    /* stopping, and nothing left to run */
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		pthread_mutex_unlock(&p->lock);
		j->run(j->data);
		free(j);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct worker_pool *worker_pool_new(size_t threads)
{
	struct worker_pool *p = calloc(1, sizeof(*p));
	size_t i;

	if (!p)
		return NULL;
	p->threads = calloc(threads, sizeof(*p->threads));
	if (!p->threads) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->ready, NULL);
	for (i = 0; i < threads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
			log_warn("worker: %zu of %zu threads started", i, threads);
			break;
		}
	}
	p->nthreads = i;
	if (p->nthreads == 0) {
		worker_pool_free(p);
		return NULL;
	}
	return p;
}

void worker_pool_free(struct worker_pool *p)
{
	size_t i;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->ready);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->ready);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p);
}

int worker_submit(struct worker_pool *p, void (*run)(void *data), void *data)
{
	struct worker_job *j = p ? calloc(1, sizeof(*j)) : NULL;

	if (!j)
		return -ENOMEM;
	j->run = run;
	j->data = data;
	pthread_mutex_lock(&p->lock);
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	pthread_cond_signal(&p->ready);
	pthread_mutex_unlock(&p->lock);
	return 0;
}
