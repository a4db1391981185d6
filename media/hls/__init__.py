"""HLS: the ladder a source is offered at, its playlists, and the encoder that makes segments."""
