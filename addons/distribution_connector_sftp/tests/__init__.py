from . import test_sftp_transport
