/* The text of ember --help, apart from main.c: the options are parsed there. */
#ifndef EMBER_USAGE_H
#define EMBER_USAGE_H

extern const char ember_usage[];

#endif
