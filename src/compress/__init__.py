"""Deep Compression (Han et al., ICLR 2016): storage format, Huffman coding and accounting."""
