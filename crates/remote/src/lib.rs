//! The communicator room: SSH connections with retries and keepalives, command execution with
//! streamed output and timeouts, tar-stream and SFTP uploads, downloads. It knows nothing of clouds.
