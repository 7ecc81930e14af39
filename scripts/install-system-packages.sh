#!/usr/bin/env bash
# Install the real components the tests drive, from Debian's packages (nothing is downloaded by a
# test tool): Chromium for the browser tests (Playwright drives it), Orthanc with its DICOMweb
# plugin (and GDCM for transcoding) for the DICOMweb tests, Tesseract for burned-in text detection.
# As root this installs what is missing in one apt call; otherwise it says what to run. Exit status
# 0 either way: the tests decide (under CI=true a missing component fails them, elsewhere they skip
# with a message).
set -u
declare -A command_of=(
    [chromium]=/usr/bin/chromium
    [orthanc]=/usr/sbin/Orthanc
    [orthanc-dicomweb]=/usr/share/orthanc/plugins/libOrthancDicomWeb.so
    [orthanc-gdcm]=/usr/share/orthanc/plugins/libOrthancGdcm.so
    [tesseract-ocr]=/usr/bin/tesseract
    [tesseract-ocr-eng]=/usr/share/tesseract-ocr/5/tessdata/eng.traineddata
)
missing=()
for package in "${!command_of[@]}"; do
    [ -e "${command_of[$package]}" ] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ]; then
    echo "Installing Debian packages for the tests: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Orthanc's post-install step tries to start a system service: refuse that (the tests start
    # their own server on a free port and stop it by its process id).
    policy=/usr/sbin/policy-rc.d
    created_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
    fi
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || echo "could not install: ${missing[*]}"
    [ "$created_policy" = 1 ] && rm -f "$policy"
else
    echo "Missing Debian packages: ${missing[*]}; their tests will be skipped" \
        "(run: sudo apt-get install ${missing[*]})."
fi
exit 0
