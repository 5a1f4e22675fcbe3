/*
 * err.c -- string tables for the LS_E* error codes (see err.h).
 */
#include "err.h"

static const char *const err_text[] = {
	[LS_OK] = "success",
#define LS__ERR_TEXT(name, msg) [LS_##name] = msg,
	LS_ERRNO_MAP(LS__ERR_TEXT)
#undef LS__ERR_TEXT
};

static const char *const err_name[] = {
	[LS_OK] = "LS_OK",
#define LS__ERR_NAME(name, msg) [LS_##name] = "LS_" #name,
	LS_ERRNO_MAP(LS__ERR_NAME)
#undef LS__ERR_NAME
};

const char *
ls_strerror(int err)
{
	if (err < 0 || err >= LS_ERRNO_MAX)
		return "unknown error";
	return err_text[err];
}

const char *
ls_errname(int err)
{
	if (err < 0 || err >= LS_ERRNO_MAX)
		return "LS_EUNKNOWN";
	return err_name[err];
}
