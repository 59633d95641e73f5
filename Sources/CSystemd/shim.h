#ifndef RELANCE_CSYSTEMD_SHIM_H
#define RELANCE_CSYSTEMD_SHIM_H

/* The journal handler passes CODE_FILE, CODE_LINE and CODE_FUNC itself, so the
   header's location-adding macros (which would report this shim) stay off and
   sd_journal_sendv is the plain library function. */
#define SD_JOURNAL_SUPPRESS_LOCATION 1

#include <sys/uio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#endif
