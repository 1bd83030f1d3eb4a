/*
 * The floor under any "VMM CPU per request" figure on this host: one thread sleeps in
 * epoll_wait on an eventfd, is woken by another thread, reads the eventfd and answers on a
 * second eventfd - what ember's event loop does for each request, minus the device work.
 * Prints the woken thread's CPU time per round, in microseconds.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 20000

struct pair {
	int to_worker, to_main;
	double cpu_us;
};

static double thread_cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void *worker(void *arg)
{
	struct pair *p = arg;
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(0), i;
	uint64_t v;
	double t0;

	epoll_ctl(ep, EPOLL_CTL_ADD, p->to_worker, &ev);
	t0 = thread_cpu_us();
	for (i = 0; i < ROUNDS; i++) {
		if (epoll_wait(ep, &ev, 1, -1) != 1 || read(p->to_worker, &v, 8) != 8)
			return NULL;
		v = 1;
		if (write(p->to_main, &v, 8) != 8)
			return NULL;
	}
	p->cpu_us = (thread_cpu_us() - t0) / ROUNDS;
	close(ep);
	return NULL;
}

int main(void)
{
	struct pair p = { eventfd(0, 0), eventfd(0, 0), -1 };
	pthread_t t;
	uint64_t v;
	int i;

	pthread_create(&t, NULL, worker, &p);
	for (i = 0; i < ROUNDS; i++) {
		v = 1;
		if (write(p.to_worker, &v, 8) != 8 || read(p.to_main, &v, 8) != 8)
			return 1;
	}
	pthread_join(t, NULL);
	printf("%.2f\n", p.cpu_us);
	return p.cpu_us < 0;
}
