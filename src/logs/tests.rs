//! Line splitting, prefixing and the write queues, without processes.

use super::*;

fn split(chunks: &[&[u8]]) -> (String, Vec<u8>) {
    let mut partial = Vec::new();
    let mut out = Queue::default();
    for c in chunks {
        split_lines(&mut partial, c, "web | ", &mut out);
    }
    (String::from_utf8(out.as_slice().to_vec()).unwrap(), partial)
}

#[test]
fn lines_are_prefixed_across_reads() {
    let (out, rest) = split(&[b"one\ntw", b"o\n\nthr", b"ee"]);
    assert_eq!(out, "web | one\nweb | two\nweb | \n");
    assert_eq!(rest, b"three");
}

/// The splitter before issue 14 (all input through `partial`), kept
/// as the reference the fast one must match byte for byte.
fn split_reference(partial: &mut Vec<u8>, data: &[u8], prefix: &str, out: &mut Vec<u8>) {
    partial.extend_from_slice(data);
    let mut start = 0;
    loop {
        let rest = &partial[start..];
        let (end, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) if i <= MAX_LINE => (start + i, start + i + 1),
            _ if rest.len() > MAX_LINE => {
                let cut = utf8_cut(&rest[..MAX_LINE]);
                (start + cut, start + cut)
            }
            _ => break,
        };
        out.extend_from_slice(prefix.as_bytes());
        out.extend_from_slice(&partial[start..end]);
        out.push(b'\n');
        start = next;
    }
    partial.drain(..start);
}

/// A small LCG, so that the random tests are the same every run.
fn lcg(mut seed: u64) -> impl FnMut(u64) -> u64 {
    move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    }
}

/// Lines of every length around MAX_LINE and short ones, multi-byte
/// characters, and (`unfinished`) a last line without its newline.
fn random_lines(next: &mut impl FnMut(u64) -> u64, size: usize, unfinished: bool) -> Vec<u8> {
    let mut input = Vec::new();
    while input.len() < size {
        let len = match next(4) {
            0 => next(20),
            1 => MAX_LINE as u64 - 3 + next(7),
            2 => next(3 * MAX_LINE as u64),
            _ => next(200),
        };
        for _ in 0..len {
            match next(10) {
                0 => input.extend_from_slice("€".as_bytes()),
                _ => input.push(b'a' + next(26) as u8),
            }
        }
        input.push(b'\n');
    }
    if unfinished {
        input.extend_from_slice(b"unfinished");
    }
    input
}

/// Two services read in chunks of any size, their lines queued and
/// written in writes that stop anywhere, match the reference byte for
/// byte, each line whole.
#[test]
fn the_fast_splitter_matches_the_reference_whatever_the_reads() {
    let mut next = lcg(12345);
    for round in 0..40 {
        let inputs = [
            random_lines(&mut next, 60_000, round % 2 == 1),
            random_lines(&mut next, 30_000, round % 4 == 1),
        ];
        let prefixes = ["web | ", "a-much-longer-name | "];
        let mut at = [0, 0];
        let mut partials = [Vec::new(), Vec::new()];
        let mut references = [Vec::new(), Vec::new()];
        let mut out = Output::new(-1);
        let (mut written, mut expected) = (Vec::new(), Vec::new());
        while at[0] < inputs[0].len() || at[1] < inputs[1].len() {
            let s = next(2) as usize;
            let left = inputs[s].len() - at[s];
            if left == 0 {
                continue;
            }
            let max = if round % 3 == 0 { 64 } else { 20_000 };
            let n = (1 + next(max) as usize).min(left);
            let chunk = &inputs[s][at[s]..at[s] + n];
            split_lines(&mut partials[s], chunk, prefixes[s], &mut out.queue);
            split_reference(&mut references[s], chunk, prefixes[s], &mut expected);
            at[s] += n;
            assert_eq!(
                partials[s], references[s],
                "round {round}: partial at {at:?}"
            );
            // A write that takes any part of what is queued.
            let queued = out.queue.as_slice()[out.head..].to_vec();
            assert_eq!(out.pending(), queued.len());
            let k = next(queued.len() as u64 + 1) as usize;
            written.extend_from_slice(&queued[..k]);
            out.head += k;
            out.compact();
            assert!(
                out.queue.as_slice()[out.head..] == queued[k..],
                "round {round}: after {k}"
            );
        }
        written.extend_from_slice(&out.queue.as_slice()[out.head..]);
        assert!(written == expected, "round {round}: output differs");
    }
}

#[test]
fn newline_finds_the_first_one() {
    for len in 0..40 {
        let mut v = vec![b'x'; len];
        assert_eq!(newline(&v), None);
        for at in 0..len {
            v[at] = b'\n';
            assert_eq!(newline(&v), Some(at), "{len} {at}");
            v[len - 1] = b'\n';
            assert_eq!(newline(&v), Some(at));
            v.fill(b'x');
        }
    }
    assert_eq!(newline(&[0x8a, 0x0a]), Some(1)); // 0x8a ^ 0x0a = 0x80
    assert_eq!(newline_words(&[0x8a, 0x0a]), Some(1));
}

#[test]
fn long_lines_are_cut_at_char_boundaries() {
    // 8191 ASCII bytes then a 3-byte character straddling the limit.
    let mut line = vec![b'a'; MAX_LINE - 1];
    line.extend_from_slice("€".as_bytes());
    line.extend_from_slice(b"tail\n");
    let (out, rest) = split(&[&line]);
    assert!(rest.is_empty());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].len(), "web | ".len() + MAX_LINE - 1);
    assert_eq!(lines[1], "web | €tail");
}

/// Writes as much of `bytes` as the pipe takes without blocking.
fn fill(p: &Pipe, bytes: &[u8]) -> usize {
    let w = p.w.as_ref().unwrap();
    nix::fcntl::fcntl(
        w,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .unwrap();
    nix::unistd::write(w, bytes).unwrap_or(0)
}

// Symptom (#4): the supervisor's end-of-run loop `while readable() &&
// drain_into()` never ended while a left-behind process kept the pipe
// full, and the queue grew by 113 MB a second.
#[test]
fn a_pipe_that_never_empties_cannot_grow_a_queue_past_its_cap() {
    let mut p = Pipe::new(true).unwrap();
    let mut out = Output::new(-1);
    let prefix = "x".repeat(200) + " | ";
    let lines = b"y\n".repeat(READ_BUDGET / 2);
    let mut turns = 0;
    loop {
        fill(&p, &lines); // a writer that always keeps up
        if !(p.readable() && p.drain_into(&prefix, &mut out)) {
            break;
        }
        turns += 1;
        assert!(turns < 1000, "the loop does not end");
    }
    assert!(out.queue.len() <= QUEUE_CAP, "{} queued", out.queue.len());
    assert!(out.queue.bytes.len() <= QUEUE_CAP + READ_BUDGET, "memory");
    assert_eq!(out.dropped, 0, "room is checked before reading");
}

#[test]
fn drain_pending_takes_what_is_there_and_ends_the_last_line() {
    let mut p = Pipe::new(true).unwrap();
    let mut out = Output::new(-1);
    fill(&p, b"one\ntwo");
    p.drain_pending("a | ", &mut out);
    assert_eq!(out.queue.as_slice(), b"a | one\na | two\n");
    assert!(!p.readable());
    // Without room, nothing is read and nothing is lost.
    out.queue = vec![b'q'; QUEUE_CAP].into();
    fill(&p, b"three\n");
    p.drain_pending("a | ", &mut out);
    assert!(p.readable());
    assert_eq!(out.queue.len(), QUEUE_CAP);
}

#[test]
fn the_cap_holds_and_drops_are_counted() {
    let mut out = Output::new(-1);
    out.push_own(vec![b'm'; QUEUE_CAP - 10]);
    out.push_own(b"0123456789abc\n".to_vec());
    assert_eq!(out.queue.len(), QUEUE_CAP - 10);
    assert_eq!(out.dropped, 14);
    let mut over = Output::new(-1);
    over.queue = b"line\n".repeat(QUEUE_CAP / 5 + 10).into();
    over.enforce_cap();
    assert!(over.queue.len() <= QUEUE_CAP && over.queue.as_slice().ends_with(b"\n"));
    assert_eq!(over.dropped as usize, 50);
}

/// Through its own non-blocking description, an output writes what the
/// pipe takes and keeps the rest, in order, without ever blocking, partial
/// writes stopping anywhere.
#[test]
fn a_pipe_output_writes_what_fits_and_keeps_the_rest_in_order() {
    use std::io::Read;
    let (r, w) = crate::sys::pipe(false).unwrap();
    let mut out = Output::new(w.as_raw_fd());
    let own = crate::sys::reopen_pipe_nonblocking(w.as_raw_fd()).expect("a pipe");
    out.fd = own.as_raw_fd();
    out.own = Some(own);
    let mut next = lcg(7);
    // Short lines, and now and then one cut in three (newline pieces).
    let mut input = Vec::new();
    while input.len() < 1_000_000 {
        let len = if next(50) == 0 {
            2 * MAX_LINE + 10
        } else {
            next(200) as usize
        };
        input.extend(std::iter::repeat_n(b'x', len));
        input.push(b'\n');
    }
    let prefixes = ["svc | ", "other | "];
    let mut partials = [Vec::new(), Vec::new()];
    let mut references = [Vec::new(), Vec::new()];
    let mut data = Vec::new();
    for (k, chunk) in input.chunks(READ_BUDGET / 3).enumerate() {
        split_lines(&mut partials[k % 2], chunk, prefixes[k % 2], &mut out.queue);
        split_reference(&mut references[k % 2], chunk, prefixes[k % 2], &mut data);
    }
    let mut got = Vec::new();
    let mut r = std::fs::File::from(r);
    while got.len() < data.len() {
        out.write_now(); // never blocks, however much is queued
        assert!(out.pending() <= data.len() - got.len());
        let mut buf = vec![0u8; 1 << 16];
        let want =
            (data.len() - got.len() - out.pending()).min(1 + next(buf.len() as u64) as usize);
        let n = r.read(&mut buf[..want]).unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got == data);
    assert_eq!(out.pending(), 0);
    // Not a pipe: no description of its own.
    let file = std::fs::File::open("/dev/null").unwrap();
    assert!(crate::sys::reopen_pipe_nonblocking(file.as_raw_fd()).is_none());
}

// Symptom (#13): tend's last write to a pipe nobody read blocked its
// exit forever.
#[test]
fn the_final_flush_gives_up_at_its_deadline() {
    let (r, w) = crate::sys::pipe(false).unwrap();
    let mut out = Output::new(w.as_raw_fd());
    out.queue = vec![b'z'; 1 << 20].into(); // more than a pipe holds
    let start = Instant::now();
    let dropped = out.flush_until(start + Duration::from_millis(200));
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(dropped > 0 && dropped < 1 << 20, "{dropped}");
    assert!(out.queue.is_empty());
    drop(r);
}

#[test]
fn copy_fast_copies_exactly_up_to_the_ends() {
    let from: Vec<u8> = (0..100u8).collect();
    for start in 0..from.len() {
        for len in 0..=from.len() - start {
            let mut dst = vec![0xffu8; len + 16];
            copy_fast(&mut dst, &from, start, len);
            assert_eq!(dst[..len], from[start..start + len], "{start} {len}");
        }
    }
}

#[test]
fn utf8_cuts() {
    assert_eq!(utf8_cut(b"abc"), 3);
    assert_eq!(utf8_cut("a€".as_bytes()), 4);
    assert_eq!(utf8_cut(&"a€".as_bytes()[..3]), 1);
    assert_eq!(utf8_cut(&"a😀".as_bytes()[..4]), 1);
    assert_eq!(utf8_cut(&[0xff, 0xff]), 2);
}

/// Hostile bytes (NUL, a lone `\r`, bytes that are not UTF-8, lead bytes
/// without their continuation, empty lines), lines of MAX_LINE - 1,
/// MAX_LINE, MAX_LINE + 1 bytes and at 16-byte boundaries, prefixes of
/// every length around a 16-byte move up to a name's maximum, read in
/// chunks of any size: the fast splitter matches the reference.
#[test]
fn hostile_bytes_and_prefixes_split_as_the_reference_does() {
    let alphabet = [b'\n', b'\r', 0, 0xff, 0xf0, 0x80, 0xe2, 0xc3, b'a'];
    let mut next = lcg(777);
    let rounds = if cfg!(miri) { 2 } else { 60 };
    for round in 0..rounds {
        let mut input = Vec::new();
        let size = if cfg!(miri) { 20_000 } else { 50_000 };
        while input.len() < size {
            let len = match next(5) {
                0 => MAX_LINE as u64 - 1 + next(3),
                1 => 16 * next(8) + next(2),
                2 => 0,
                _ => next(100),
            };
            for _ in 0..len {
                let b = match next(4) {
                    0 => alphabet[next(alphabet.len() as u64) as usize],
                    _ => b'a' + next(26) as u8,
                };
                input.push(if b == b'\n' { b'x' } else { b });
            }
            input.push(b'\n');
        }
        if round % 2 == 1 {
            input.extend_from_slice(&[0xf0, 0x9f, 0x98]);
        }
        let plen: usize = [0, 1, 14, 15, 16, 17, 31, 32, 33, 250, 259][round % 11];
        let prefix: String = "n".repeat(plen.saturating_sub(3)) + &" | "[..plen.min(3)];
        let (mut partial, mut reference) = (Vec::new(), Vec::new());
        let (mut out, mut expected) = (Queue::default(), Vec::new());
        let mut at = 0;
        while at < input.len() {
            let max = [1, 17, 4096, 70_000][next(4) as usize];
            let n = (1 + next(max) as usize).min(input.len() - at);
            let chunk = &input[at..at + n];
            split_lines(&mut partial, chunk, &prefix, &mut out);
            split_reference(&mut reference, chunk, &prefix, &mut expected);
            at += n;
            assert_eq!(partial, reference, "round {round}: partial at {at}");
        }
        assert!(out.as_slice() == expected, "round {round}: output differs");
    }
}
