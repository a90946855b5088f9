// The two facts the mesh reads from SDP: the ICE username fragment (changes on ICE restart)
// and the DTLS fingerprint (changes only when the other side built a new RTCPeerConnection).

export function iceUfrag(sdp: string | null | undefined): string | null {
  return sdp == null ? null : (/^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1] ?? null);
}

export function dtlsFingerprint(sdp: string | null | undefined): string | null {
  return sdp == null ? null : (/^a=fingerprint:(.+?)\s*$/m.exec(sdp)?.[1] ?? null);
}
