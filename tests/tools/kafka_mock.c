/*
 * kafka_mock.c -- a Kafka-protocol peer for tests: librdkafka's mock
 * cluster, reachable from other processes (logstream, kcat) on loopback.
 *
 *   kafka_mock [--brokers N] [--topic NAME:PARTITIONS]...
 *
 * Prints "bootstrap HOST:PORT[,...]" on a line of its own once the
 * brokers listen, then serves until its standard input closes or it gets
 * SIGTERM / SIGINT.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: kafka_mock [--brokers N] [--topic NAME:PARTITIONS]...\n"
	           "A Kafka mock cluster (librdkafka) for tests: prints its "
	           "bootstrap servers, serves until stdin closes.\n");
}

int
main(int argc, char **argv)
{
	int brokers = 1;
	char errstr[512];

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc)
			brokers = atoi(argv[++i]);
	if (brokers < 1 || brokers > 16) {
		usage(stderr);
		return 2;
	}
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	/* the hosting client connects nowhere: no warning about that */
	rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
	    sizeof(errstr));
	if (rk == NULL) {
		fprintf(stderr, "kafka_mock: %s\n", errstr);
		return 1;
	}
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
	if (mc == NULL) {
		fprintf(stderr, "kafka_mock: cannot create the mock cluster\n");
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--brokers") == 0) {
			i++;
			continue;
		}
		if (strcmp(argv[i], "--topic") != 0 || i + 1 >= argc) {
			usage(stderr);
			return 2;
		}
		char name[256];
		const char *spec = argv[++i], *colon = strrchr(spec, ':');
		int parts = colon != NULL ? atoi(colon + 1) : 0;
		size_t nl = colon != NULL ? (size_t)(colon - spec) : 0;
		if (parts < 1 || nl == 0 || nl >= sizeof(name)) {
			fprintf(stderr, "kafka_mock: bad topic %s\n", spec);
			return 2;
		}
		memcpy(name, spec, nl);
		name[nl] = '\0';
		if (rd_kafka_mock_topic_create(mc, name, parts, 1) != 0) {
			fprintf(stderr, "kafka_mock: cannot create %s\n", name);
			return 1;
		}
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);
	char buf[256];
	while (!stop) {
		ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));
		if (r == 0 || (r < 0 && !stop))
			break;
	}
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}
