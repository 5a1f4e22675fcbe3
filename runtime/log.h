/*
 * log.h -- structured logging.
 *
 * One line per record, logfmt by default
 *     ts=2026-11-23T20:00:00.123Z level=warn mod=runtime msg="actor failed" kind=window id=42
 * or JSON objects with LS_LOG_FORMAT=json.  The format string of ls_log is
 * "free text key=value key=value": the text becomes msg and the trailing
 * key=value pairs become fields.  LS_LOG_LEVEL (debug, info, warn, error)
 * sets the threshold; default info.  Thread-safe: a record is written with
 * one fwrite.
 */
#ifndef LS_LOG_H
#define LS_LOG_H

#include <stdio.h>

enum ls_log_level {
	LS_LOG_DEBUG = 0,
	LS_LOG_INFO,
	LS_LOG_WARN,
	LS_LOG_ERROR,
	LS_LOG_OFF
};

/* Threshold: records below it are dropped.  Any thread. */
void ls_log_set_level(int level);

/* 1 = JSON lines, 0 = logfmt. */
void ls_log_set_json(int json);

/* Where records go (default stderr); borrowed, must outlive logging. */
void ls_log_set_output(FILE *f);

/* 1 if a record at this level would be written. */
int ls_log_enabled(int level);

/* Write one record; module is a short static name ("runtime", "node"). */
void ls_log(int level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parse "debug" | "info" | "warn" | "error" | "off"; -1 when unknown. */
int ls_log_level_parse(const char *s);

#endif /* LS_LOG_H */
