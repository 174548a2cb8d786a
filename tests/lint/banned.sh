#!/bin/sh
# Fails when a source file calls a function ztiam bans: unbounded copies and
# formats (strcpy, strcat, sprintf, vsprintf, gets), parsers that cannot
# report errors or are not reentrant (atoi, atol, sscanf, fscanf, strtok),
# and the process-global locale/time helpers that race across workers
# (gmtime, localtime, asctime, ctime).
#   banned.sh SRC_DIR
set -eu
dir=$1
pattern='\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|sscanf|fscanf|strtok|gmtime|localtime|asctime|ctime)[[:space:]]*\('
if grep -rnE "$pattern" "$dir" --include='*.c' --include='*.h'; then
	echo "banned function calls found (see tests/lint/banned.sh)" >&2
	exit 1
fi
echo "no banned calls in $dir"
