"""The container's exit code: where it is written, and how the last word is found.

v3 keeps it in /run/s6-linux-init-container-results/exitcode (`halt`, a finish script or
we write it); v1/v2 finish scripts write env-stage3/S6_STAGE2_EXITED, and v2 itself wrote
the CMD's code there (cont-finish.d scripts read it, `set -u` ones rely on it).  At the
end, a S6_STAGE2_EXITED somebody else wrote wins, then the exitcode file, then what we
could not write, then 0.
"""

__all__ = ["ExitCode"]


class ExitCode:
    def __init__(self, paths, say):
        self.paths = paths
        self.say = say
        self.unwritten = None          # a code we could not write anywhere
        self.stage2_exited_written = None  # what we last wrote to S6_STAGE2_EXITED

    def stage2_exited_path(self):
        from s6py.init import stage1

        return stage1.stage2_exited(self.paths)

    def set(self, code, stage2_exited=False):
        """Write CODE to the exitcode file and, with STAGE2_EXITED, to S6_STAGE2_EXITED
        too (the CMD's code, a failed stage 2 with S6_BEHAVIOUR_IF_STAGE2_FAILS != 0)."""
        from s6py.init import stage1

        try:
            stage1.write_file(self.paths.exitcode, b"%d\n" % code)
        except OSError as e:
            self.say.warn("unable to write %s: %s" % (self.paths.exitcode, e.strerror))
            self.unwritten = code
        if stage2_exited:
            data = b"%d" % code  # as v2's `s6-echo -n`
            path = self.stage2_exited_path()
            try:
                stage1.write_file(path, data)
                self.stage2_exited_written = data
            except OSError as e:
                self.say.warn("unable to write %s: %s" % (path, e.strerror))

    def final(self):
        """The code the container exits with (see the module docstring)."""
        stage2 = self._read(self.stage2_exited_path())
        if stage2 is not None and stage2[1] != self.stage2_exited_written:
            return stage2[0]
        found = self._read(self.paths.exitcode)
        if found is not None:
            return found[0]
        if self.unwritten is not None:
            return self.unwritten & 0xFF
        return 0

    def _read(self, path):
        """(exit code, the file's bytes) from PATH, or None (missing or not a number)."""
        try:
            with open(path, "rb") as f:
                data = f.read(64)
        except OSError:
            return None
        text = data.split(b"\n", 1)[0].strip()
        if text.isdigit():
            return int(text) & 0xFF, data
        if text:
            self.say.warn("%s: %r is not an exit code, ignored"
                          % (path, text.decode("ascii", "replace")))
        return None
