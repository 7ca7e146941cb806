package runtime

func registerRNN(r *Registry) {}
