// ffmpeg can decode an MP4 from a pipe only when its index (the moov box) comes before the media
// data (mdat): "fast start" files. Phones and encoders often write moov last; those need a seekable
// input. This looks at the top-level boxes of the first bytes to tell which case a stream is. GIFs,
// small anyway, are always spooled.

export type InputPlan = 'pipe' | 'spool' | 'need_more';

/** Past this many leading bytes without an answer, pipe and let ffmpeg judge. */
export const SNIFF_LIMIT = 1024 * 1024;

function boxType(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);
}

export function planInput(prefix: Uint8Array, complete: boolean): InputPlan {
  if (prefix.length < 8) return complete ? 'pipe' : 'need_more';
  // ffmpeg's GIF demuxer seeks back while probing: from a pipe it fails with an I/O error (measured).
  if (boxType(prefix, 0) === 'GIF8') return 'spool';
  // Not ISO BMFF (WebM, MPEG-TS...): those stream fine.
  if (boxType(prefix, 4) !== 'ftyp') return 'pipe';
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  let at = 0;
  while (at + 8 <= prefix.length) {
    let size = view.getUint32(at);
    const type = boxType(prefix, at + 4);
    if (type === 'moov') return 'pipe';
    if (type === 'mdat') return 'spool';
    if (size === 1) {
      if (at + 16 > prefix.length) break;
      size = Number(view.getBigUint64(at + 8));
    }
    // Size 0 means "to the end of the file": no moov ahead of the data.
    if (size === 0) return 'spool';
    if (size < 8) return 'pipe';
    at += size;
  }
  if (complete) return 'spool';
  return prefix.length >= SNIFF_LIMIT ? 'pipe' : 'need_more';
}
