from kompy.cli import main

main()
