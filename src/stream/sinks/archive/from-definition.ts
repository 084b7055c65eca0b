/**
 * The archive sink from a stream's stored definition: its directory from the URL
 * (`file:///absolute/path`, or an absolute path), its rotation size from the options, and the
 * checkpoint signing key of the process that delivers it, which signs the manifest.
 */
import { isAbsolute } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { SigningKey } from '../../../integrity/checkpoint.js'
import { invalid, type StreamRecord } from '../../definition.js'
import type { StreamSink } from '../../sink.js'
import { ArchiveSink } from './archive-sink.js'

/** A segment is sealed at this size unless the stream says otherwise (`rotate_mb`). */
export const DEFAULT_ROTATE_MB = 64

export function archiveOptions(url: string, options: StreamRecord['sink']['options']): { dir: string; rotateBytes: number } {
  let dir: string | undefined
  if (url.startsWith('file:')) {
    try {
      dir = fileURLToPath(url)
    } catch {
      dir = undefined
    }
  } else if (isAbsolute(url)) {
    dir = url
  }
  if (dir === undefined) throw invalid('url', 'file_url', `an archive stream writes to a directory on this host: give file:///absolute/path, not ${JSON.stringify(url)}`)
  const rotate = options.rotate_mb === undefined ? DEFAULT_ROTATE_MB : Number(options.rotate_mb)
  if (!Number.isFinite(rotate) || rotate < 1 || rotate > 4096) {
    throw invalid('options.rotate_mb', 'range', 'must be a number of megabytes from 1 to 4096')
  }
  return { dir, rotateBytes: Math.round(rotate * 1024 * 1024) }
}

/**
 * Without the signing key an archive could not be verified offline, so the stream is refused (and
 * parked by the runner, the reason shown in `streams show` and health) rather than written unsigned.
 */
export function archiveSinkFactory(signingKey: SigningKey | undefined): (stream: Pick<StreamRecord, 'sink'>) => StreamSink {
  return (stream) => {
    if (!signingKey) {
      throw invalid('sink', 'signing_key', 'an archive stream signs its manifest with the checkpoint key: configure AUDITQ_SIGNING_KEY_FILE (or AUDITQ_SIGNING_KEY) on the processes that deliver streams')
    }
    return new ArchiveSink({ ...archiveOptions(stream.sink.url, stream.sink.options), signingKey })
  }
}
