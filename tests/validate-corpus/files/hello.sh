#!/bin/sh
# Referenced by corpus templates: Packer checks that script files exist at validate time.
echo hello
