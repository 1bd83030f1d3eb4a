/*
 * The instance's life: wait for configuration on the API, build the VM on InstanceStart,
 * then run it with the API served from the same event loop as the devices.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "instance.h"
#include "routes.h"
#include "../util/log.h"
#include "../util/util.h"

void instance_init(struct instance *in, const char *id, struct vm_config *cfg, uint64_t start_us)
{
	memset(in, 0, sizeof(*in));
	snprintf(in->id, sizeof(in->id), "%s", id ? id : INSTANCE_DEFAULT_ID);
	logger_init(&in->log);
	in->cfg = *cfg;
	vm_config_init(cfg); /* the instance owns the strings now */
	in->start_us = start_us;
	in->signal_fd = -1;
	in->preboot_loop.epoll_fd = -1;
	mmds_init(&in->mmds);
	metrics_init(&in->metrics);
	api_routes_name_metrics(&in->metrics);
	seccomp_filters_init(&in->seccomp, &in->log, &in->metrics.fd);
}

/* Every waiting API request, answered on this (the device) thread. */
static void instance_on_api(void *opaque, uint32_t events)
{
	struct instance *in = opaque;
	struct api_request *req;

	(void)events;
	while ((req = api_server_take(in->api)))
		api_route(in, req);
}

static void instance_on_signal(void *opaque, uint32_t events)
{
	struct instance *in = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(in->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		log_info(&in->log, "signal %u before InstanceStart: exiting", si.ssi_signo);
		in->quit = true;
	}
}

int instance_open_metrics(struct instance *in, char *why, size_t why_len)
{
	int ret = 0;

	if (in->cfg.metrics.set && in->metrics.fd < 0) {
		ret = metrics_open(in);
		if (ret)
			snprintf(why, why_len, "metrics.metrics_path: cannot open '%s': %s",
				 in->cfg.metrics.path, strerror(-ret));
	}
	return ret;
}

int instance_take_over(struct instance *in, const char *what, char *why, size_t why_len)
{
	int ret;

	if (in->api) {
		ret = event_loop_add(&in->machine.vm.loop, &in->api_src, EPOLLIN);
		if (ret) {
			snprintf(why, why_len, "%s: cannot watch the API", what);
			machine_destroy(&in->machine);
			return ret;
		}
		if (in->preboot_loop.epoll_fd >= 0)
			event_loop_del(&in->preboot_loop, &in->api_src);
	}
	if (in->metrics.fd >= 0 && metrics_start_timer(in, &in->machine.vm.loop))
		log_warn(&in->log, "cannot start the periodic metrics timer");
	return 0;
}

int instance_start(struct instance *in, char *why, size_t why_len)
{
	char reason[400];
	int ret;

	if (!in->cfg.kernel_path) {
		snprintf(why, why_len, "Cannot start microvm without kernel configuration.");
		ret = -EINVAL;
		goto fail;
	}
	ret = instance_open_metrics(in, why, why_len);
	if (ret)
		goto fail;
	mmds_configure(&in->mmds, in->cfg.mmds.set ? in->cfg.mmds.version : 1,
		       in->cfg.mmds.imds_compat);
	ret = machine_build(&in->machine, &in->cfg, &in->log, in->start_us, &in->mmds, reason,
			    sizeof(reason));
	if (ret) {
		snprintf(why, why_len, "Failed to start microVM: %s",
			 *reason ? reason : strerror(-ret));
		goto fail;
	}
	ret = instance_take_over(in, "Failed to start microVM", why, why_len);
	if (ret)
		goto fail;
	in->state = INSTANCE_RUNNING;
	return 0;
fail:
	/* Logged here, whoever asked: the API's 400 alone would leave no trace in the log. */
	log_err(&in->log, "%s", why);
	return ret;
}

int instance_pause(struct instance *in, char *why, size_t why_len)
{
	uint64_t t0 = now_us();
	int ret;

	if (in->state == INSTANCE_PAUSED)
		return 0;
	ret = vm_pause(&in->machine.vm);
	in->metrics.pause_vm_us = now_us() - t0;
	if (ret) {
		snprintf(why, why_len, "Failed to pause the microVM: %s",
			 ret == -ETIMEDOUT ? "a vCPU did not stop in time" : strerror(-ret));
		return ret;
	}
	in->state = INSTANCE_PAUSED;
	log_info(&in->log, "microVM paused");
	return 0;
}

int instance_resume(struct instance *in, char *why, size_t why_len)
{
	uint64_t t0 = now_us();

	(void)why;
	(void)why_len;
	if (in->state == INSTANCE_PAUSED) {
		vm_resume(&in->machine.vm);
		in->metrics.resume_vm_us = now_us() - t0;
		log_info(&in->log, "microVM resumed");
	}
	in->state = INSTANCE_RUNNING;
	return 0;
}

/* Before InstanceStart: serve the API until it starts the VM or a signal says stop. */
static int instance_wait_for_start(struct instance *in)
{
	int ret;

	in->signal_src = (struct event_source){in->signal_fd, instance_on_signal, in};
	ret = event_loop_init(&in->preboot_loop) ?:
	      event_loop_add(&in->preboot_loop, &in->signal_src, EPOLLIN) ?:
	      event_loop_add(&in->preboot_loop, &in->api_src, EPOLLIN);
	while (!ret && in->state == INSTANCE_NOT_STARTED && !in->quit)
		ret = event_loop_run_once(&in->preboot_loop, -1);
	return ret;
}

int instance_open_console(struct instance *in, const char *path, char *why, size_t why_len)
{
	struct vm_config *cfg = &in->cfg;
	int ret;

	/* The serial port writes into the pipe; the machine serves the socket from the pipe. */
	ret = console_sock_open(path, &cfg->console_listen, &cfg->console_pipe, &cfg->console_out,
				why, why_len);
	if (ret)
		return ret;
	cfg->console_in = -1; /* stdin is not the guest's any more */
	log_info(&in->log, "console on %s", path);
	return 0;
}

int instance_open_api(struct instance *in, const char *sock_path, size_t max_payload, char *why,
		      size_t why_len)
{
	/*
	 * Blocked before the API thread exists (it inherits the mask) and before the socket
	 * does: a SIGTERM from a client that saw the socket still ends in a clean exit.
	 */
	uint64_t cpu;
	int ret;

	in->signal_fd = vm_stop_signals_fd();
	if (in->signal_fd < 0) {
		snprintf(why, why_len, "signalfd: %s", strerror(errno));
		return -errno;
	}
	ret = api_server_start(sock_path, max_payload, &in->log, &in->seccomp, &in->api, why,
			       why_len);
	/* As Firecracker's: from the (jailer's) start, with the jailer's CPU time added. */
	in->metrics.startup_us = now_us() - in->start_us;
	cpu = cpu_us();
	in->metrics.startup_cpu_us = (cpu > in->start_cpu_us ? cpu - in->start_cpu_us : cpu) +
				     in->parent_cpu_us;
	return ret;
}

int instance_run(struct instance *in, bool boot_now)
{
	char why[512];
	int ret;

	if (in->api)
		in->api_src = (struct event_source){api_server_request_fd(in->api), instance_on_api,
						    in};
	if (boot_now || !in->api) {
		if (in->cfg.restore.set ? instance_restore(in, &in->cfg.restore, why, sizeof(why))
					: instance_start(in, why, sizeof(why)))
			return 1;
	} else {
		ret = instance_wait_for_start(in);
		if (ret) {
			log_err(&in->log, "API event loop: %s", strerror(-ret));
			return 1;
		}
		if (in->quit)
			return 0;
	}
	return machine_run(&in->machine, &in->seccomp);
}

void instance_destroy(struct instance *in)
{
	/* The API goes first: no request may arrive for a VM being torn down. */
	if (in->api)
		api_server_stop(in->api);
	in->api = NULL;
	if (in->state != INSTANCE_NOT_STARTED)
		machine_destroy(&in->machine);
	in->state = INSTANCE_NOT_STARTED;
	event_loop_destroy(&in->preboot_loop);
	if (in->signal_fd >= 0)
		close(in->signal_fd);
	in->signal_fd = -1;
	metrics_close(&in->metrics);
	mmds_destroy(&in->mmds);
	vm_config_free(&in->cfg);
	seccomp_filters_free(&in->seccomp); /* every confined thread but this one has ended */
	logger_destroy(&in->log); /* last: everything above may still log */
}
