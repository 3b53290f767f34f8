"""Syslog over a byte stream (TCP, TLS): RFC 6587's two framings, told apart frame by frame.

- octet counting: ``LEN SP MSG``, LEN the message's length in bytes (RFC 5425 and rsyslog's
  ``TCP_Framing="octet-counted"``); a syslog message never starts with a digit (its PRI is
  ``<``), so a frame starting with digits and a space is counted;
- non-transparent: one message a line, ended by LF (a CR before it is dropped).

A frame longer than ``max_frame`` is handed on cut to ``max_frame + 1`` bytes, so that the
pipeline stores it as rejected (too long) with its start, and the rest of it is skipped.
"""

from __future__ import annotations

_MAX_DIGITS = 10


class Framer:
    """Turns the bytes of one connection, as they arrive, into whole messages."""

    def __init__(self, max_frame: int) -> None:
        self.max_frame = max_frame
        self._buf = bytearray()
        self._skip = 0  # bytes of an over-long counted frame still to pass over
        self._skip_line = False  # passing over the rest of an over-long line

    def feed(self, data: bytes) -> list[bytes]:
        """The messages completed by ``data``."""
        out: list[bytes] = []
        if self._skip:
            cut = min(self._skip, len(data))
            self._skip -= cut
            data = data[cut:]
        self._buf += data
        while self._buf:
            if self._skip_line:
                nl = self._buf.find(b"\n")
                if nl < 0:
                    self._buf.clear()
                    break
                del self._buf[: nl + 1]
                self._skip_line = False
                continue
            counted = self._counted(out)
            if counted is None:
                break  # a counted frame not whole yet
            if counted:
                continue
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > self.max_frame:
                    out.append(bytes(self._buf[: self.max_frame + 1]))
                    self._buf.clear()
                    self._skip_line = True
                break
            frame = bytes(self._buf[:nl]).rstrip(b"\r")
            del self._buf[: nl + 1]
            if frame.strip():
                out.append(frame)
        return out

    def _counted(self, out: list[bytes]) -> bool | None:
        """Take one octet-counted frame from the buffer: True if taken, False if the buffer
        does not start with one, None if it does but is not whole yet."""
        if not self._buf[:1].isdigit():
            return False
        sp = self._buf.find(b" ", 0, _MAX_DIGITS + 1)
        if sp < 0:
            if len(self._buf) > _MAX_DIGITS or not bytes(self._buf).isdigit():
                return False
            return None
        digits = bytes(self._buf[:sp])
        if not digits.isdigit():
            return False
        length = int(digits)
        start = sp + 1
        if length > self.max_frame:
            if len(self._buf) < start + self.max_frame + 1:
                return None
            out.append(bytes(self._buf[start : start + self.max_frame + 1]))
            have = len(self._buf) - start
            if have >= length:
                del self._buf[: start + length]
            else:
                self._skip = length - have
                self._buf.clear()
            return True
        if len(self._buf) < start + length:
            return None
        frame = bytes(self._buf[start : start + length]).rstrip(b"\r\n")
        del self._buf[: start + length]
        if frame.strip():
            out.append(frame)
        return True

    def finish(self) -> list[bytes]:
        """At the end of the stream: a last message that lacked its newline."""
        rest = bytes(self._buf).rstrip(b"\r\n")
        self._buf.clear()
        if self._skip_line or self._skip or not rest.strip():
            return []
        return [rest[: self.max_frame + 1]]
