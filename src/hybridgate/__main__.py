from hybridgate.cli import main

main()
